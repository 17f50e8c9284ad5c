"""The fault suite's checker and its proxy: every class of reading, at the boundaries, on
fixed logs; the proxy forwards, cuts every connection on demand and on its schedule."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest

from chaos.checker import Class, Log, check
from chaos.proxy import CuttingProxy, ProxyError


def log(**kinds: list[tuple[str, int]]) -> Log:
    out = Log()
    for key in kinds.get("generated", []):
        out.generated.add(key)
    for key in kinds.get("acked", []):
        out.acknowledged.add(key)
    out.deliver(kinds.get("delivered", []))
    return out


A, B, C, D = ("P1", 1), ("P1", 2), ("P2", 1), ("P9", 9)


def test_each_class_is_told_apart() -> None:
    run = log(generated=[A, B, C], acked=[A, B, C], delivered=[A, B, B])
    run.reasons[C] = "cloud: store locked"
    checked = check(run)
    assert checked.counts[Class.DELIVERED] == 1
    assert checked.counts[Class.DUPLICATED] == 1 and checked.duplicated == {B: 2}
    assert checked.counts[Class.LOST] == 1 and checked.lost == {C: "cloud: store locked"}
    assert checked.lost_by_reason() == {"cloud: store locked": 1}
    assert not checked.ok


def test_unacknowledged_and_undelivered_is_counted_but_no_violation() -> None:
    checked = check(log(generated=[A, B], acked=[A], delivered=[A]))
    assert checked.counts[Class.UNACKNOWLEDGED] == 1
    assert checked.ok and checked.generated == 2


def test_an_unacknowledged_reading_that_arrives_anyway_is_delivered() -> None:
    checked = check(log(generated=[A], delivered=[A]))
    assert checked.counts[Class.DELIVERED] == 1 and checked.ok


def test_a_delivery_no_device_generated_is_unexpected() -> None:
    checked = check(log(generated=[A], acked=[A], delivered=[A, D]))
    assert checked.unexpected == (D,) and checked.counts[Class.UNEXPECTED] == 1
    assert not checked.ok and checked.generated == 1


def test_a_legitimately_refused_reading_is_not_lost() -> None:
    run = log(generated=[A], acked=[A])
    run.refused[A] = "gateway: invalid reading"
    checked = check(run)
    assert checked.counts[Class.REFUSED] == 1 and checked.ok


def test_a_lost_reading_without_a_reason_says_so() -> None:
    assert check(log(generated=[A], acked=[A])).lost == {A: "no reason given"}


def test_an_empty_run_is_vacuously_ok_and_generated_nothing() -> None:
    checked = check(Log())
    assert checked.ok and checked.generated == 0


@pytest.fixture
def echo_server():  # type: ignore[no-untyped-def]
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=lambda c=conn: _echo(c), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()
    server.close()


def _echo(conn: socket.socket) -> None:
    with conn:
        try:
            while data := conn.recv(4096):
                conn.sendall(data)
        except OSError:
            pass


def test_the_proxy_forwards_and_a_cut_severs_every_connection(echo_server) -> None:  # type: ignore[no-untyped-def]
    with CuttingProxy(echo_server) as proxy:
        links = [socket.create_connection(("127.0.0.1", proxy.port), timeout=5) for _ in range(3)]
        for s in links:
            s.sendall(b"ping")
            assert s.recv(4) == b"ping"
        assert proxy.cut() == 3
        for s in links:
            with contextlib.suppress(ConnectionResetError):
                assert s.recv(4) == b""
        again = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
        again.sendall(b"back")
        assert again.recv(4) == b"back"
    assert (proxy.stats.connections, proxy.stats.cuts, proxy.stats.severed) == (4, 1, 3)


def test_the_proxy_refuses_a_taken_port_with_a_clear_error(echo_server) -> None:  # type: ignore[no-untyped-def]
    taken = socket.create_server(("127.0.0.1", 0))
    try:
        with pytest.raises(ProxyError, match=f"port {taken.getsockname()[1]}"):
            CuttingProxy(echo_server, listen_port=taken.getsockname()[1]).start()
    finally:
        taken.close()


@pytest.mark.parametrize("gap", [0, -1.0])
def test_the_mean_gap_must_be_positive(gap: float) -> None:
    with pytest.raises(ProxyError, match="above 0"):
        CuttingProxy(("127.0.0.1", 1), mean_gap_s=gap)


def test_the_proxy_cuts_on_its_own_schedule(echo_server) -> None:  # type: ignore[no-untyped-def]
    import time

    with CuttingProxy(echo_server, mean_gap_s=0.01, seed=1) as proxy:
        deadline = time.monotonic() + 30
        while proxy.stats.cuts < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert proxy.stats.cuts >= 3
