"""The embedded amqtt broker, a child process: started until it listens, stopped and
started again on its port, a death reported, a bad port refused with the child's own
words, and no broker outliving the process that started it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dthq.transport.brokers import LOOPBACK, EmbeddedBroker, free_port
from dthq.transport.bus import BusError
from dthq.transport.mqtt import MQTTTransport

ROOT = Path(__file__).resolve().parents[1]
GONE_S = 10.0  # the longest wait for a process to be gone (the child polls every 0.2 s)


def _round_trip(broker: EmbeddedBroker) -> bytes:
    pair = MQTTTransport(broker.url, protocol=broker.protocol)
    try:
        pair.send("A", b"across the broker")
        return pair.receive("B")
    finally:
        pair.close()


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers: gone for a broker whose parent has not reaped it yet.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] == "Z"
    except (OSError, IndexError):
        return True


def _wait(what: str, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + GONE_S
    while not done():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_it_runs_in_a_child_and_restarts_on_the_same_port() -> None:
    broker = EmbeddedBroker()
    assert broker.pid is None
    with broker:
        first = broker.pid
        assert first is not None and first != os.getpid()
        assert broker.url == f"mqtt://{LOOPBACK}:{broker.port}"
        assert broker.protocol == 4
        assert broker.version.startswith("amqtt ")
        assert _round_trip(broker) == b"across the broker"
        broker.restart(0.0)
        assert broker.pid not in (None, first)
        assert _gone(first)
        assert _round_trip(broker) == b"across the broker"
        broker.stop()
        assert broker.pid is None
        assert _port_free(broker.port)  # at once: stop returns with the child reaped
        broker.start()
        assert _round_trip(broker) == b"across the broker"
    assert broker.pid is None and _port_free(broker.port)


def test_a_second_start_while_it_runs_is_refused() -> None:
    with EmbeddedBroker() as broker:
        pid = broker.pid
        with pytest.raises(BusError, match=rf"already running on port {broker.port} \(pid"):
            broker.start()
        assert broker.pid == pid
        broker.check()  # still alive: nothing to say


def test_a_child_killed_with_sigkill_is_reported_until_stopped() -> None:
    with EmbeddedBroker() as broker:
        pid = broker.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        _wait("the broker was not killed", lambda: _gone(pid))
        with pytest.raises(BusError, match=rf"\(pid {pid}\) was killed by SIGKILL"):
            broker.check()
        with pytest.raises(BusError, match="was killed by SIGKILL"):
            broker.start()
        broker.stop()  # reaps it; the port is free, a start is a fresh child
        broker.start()
        assert broker.pid != pid
        assert _round_trip(broker) == b"across the broker"


def test_a_port_in_use_is_refused_with_the_childs_error() -> None:
    with socket.socket() as taken:
        taken.bind((LOOPBACK, free_port()))
        taken.listen()
        port = taken.getsockname()[1]
        broker = EmbeddedBroker(port)
        with pytest.raises(BusError) as caught:
            broker.start()
        message = str(caught.value)
        assert message.startswith("amqtt exited with 1 before it listened: ")
        assert f"did not start on {LOOPBACK}:{port}" in message
        assert "address already in use" in message
        assert broker.pid is None  # nothing left started
        broker.stop()  # and nothing to stop


def test_ctrl_c_to_the_process_group_leaves_it_to_its_parent() -> None:
    # A terminal's Ctrl-C reaches the child too; the parent stops it after its clients.
    with EmbeddedBroker() as broker:
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGINT)
        assert _round_trip(broker) == b"across the broker"
        broker.check()


_PARENT = """
import sys, time
from dthq.transport.brokers import EmbeddedBroker
broker = EmbeddedBroker()
broker.start()
print(broker.port, broker.pid, flush=True)
time.sleep(120)
"""


def test_the_child_dies_with_its_parent_killed_with_sigkill() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert parent.stdout is not None
        port, pid = (int(v) for v in parent.stdout.readline().split())
        assert not _port_free(port)
        parent.kill()
        parent.wait(10)
        _wait("the broker outlived its parent", lambda: _gone(pid))
        _wait("the broker's port stayed taken", lambda: _port_free(port))
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


def test_run_on_its_own_it_writes_ready_and_stops_on_sigterm(tmp_path: Path) -> None:
    port, ready = free_port(), tmp_path / "ready"
    argv = [sys.executable, "-m", "dthq.transport.amqtt_broker", "--port", str(port)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([*argv, "--ready", str(ready)], env=env)
    try:
        _wait("no ready file", lambda: ready.exists() or child.poll() is not None)
        assert ready.read_text() == "ready"
        assert not _port_free(port)
        child.terminate()
        assert child.wait(10) == 0
        assert _port_free(port)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
