"""End-to-end delivery: a device keeps each reading until the gateway's sealed receipt
says the cloud stored it (or the gateway refused it), and sends it again when none
comes. The bounds at and past their values on fixed clocks; the receipts' bytes; a
reading lost on the way sent again and stored once; a forged receipt forgets nothing."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from test_session_auth import Detachable, Parties, _memory, _wait

from dthq.pipeline import topics
from dthq.pipeline.delivery import (
    MAX_RESEND_BATCH,
    RESEND_AFTER_MS,
    RESEND_CAP_MS,
    SUSPECT_AFTER_MS,
    Receipts,
    Unsettled,
)
from dthq.pipeline.gateway import FLUSH_TICK_S, RECEIPT_TICKS
from dthq.transport.bus import Bus, Handler, Message, topic_matches

T = 1_700_000_000_000


class Drop(Detachable):
    """A party's bus on which the first ``times`` records on topics matching ``pattern``
    never arrive (-1: every one)."""

    def __init__(self, bus: Bus, pattern: str, times: int = 1) -> None:
        super().__init__(bus)
        self.pattern, self.left, self.dropped = pattern, times, 0

    def subscribe(
        self, pattern: str, handler: Handler, qos: int = 1, *, manual_ack: bool = False
    ) -> None:
        def filtered(message: Message) -> None:
            record = message.payload[:1] == bytes([topics.RECORD])
            if record and self.left != 0 and topic_matches(self.pattern, message.topic):
                self.left -= 1
                self.dropped += 1
                message.ack()  # lost on the way: nothing to redeliver
                return
            handler(message)

        super().subscribe(pattern, filtered, qos, manual_ack=manual_ack)


def _dropping(stack: ExitStack, party: str, pattern: str, times: int = 1):  # type: ignore[no-untyped-def]
    memory = _memory(stack)

    def bus_for(name: str) -> Bus:
        bus = memory(name)
        return Drop(bus._bus, pattern, times) if name == party else bus  # type: ignore[attr-defined, return-value]

    return bus_for


def test_a_kept_reading_is_due_at_its_interval_not_before_and_then_doubles() -> None:
    u = Unsettled()
    u.keep(1, b"r1", T)
    assert u.due(T + RESEND_AFTER_MS - 1) == []
    assert u.due(T + RESEND_AFTER_MS) == [(1, b"r1")]
    again = T + RESEND_AFTER_MS
    assert u.due(again + 2 * RESEND_AFTER_MS - 1) == []
    assert u.due(again + 2 * RESEND_AFTER_MS) == [(1, b"r1")]
    assert u.resent == 2


def test_the_resend_interval_stops_doubling_at_its_cap() -> None:
    u = Unsettled()
    u.keep(1, b"r", T)
    now = T
    waits = []
    for _ in range(8):
        now += 10**9  # long past any interval
        u.due(now)
        waits.append(u._kept[1].wait_ms)
    assert waits[-1] == RESEND_CAP_MS and waits[:3] == [20_000, 40_000, RESEND_CAP_MS]


def test_settling_forgets_only_what_it_kept_and_a_repeat_changes_nothing() -> None:
    u = Unsettled()
    for ts in (1, 2, 3):
        u.keep(ts, b"x", T)
    assert u.settle([2, 9], T + 5) == [2]
    assert u.settle([2], T + 6) == []
    assert len(u) == 2 and 2 not in u and u.last_settled_ms == T + 5
    u.keep(1, b"again", T + 7)  # the same reading kept twice is one
    assert len(u) == 2


def test_the_bounds_push_out_the_oldest_at_one_past_them() -> None:
    u = Unsettled(max_readings=3, max_bytes=1000)
    for ts in (1, 2, 3):
        u.keep(ts, b"x", T)
    assert len(u) == 3 and u.dropped == 0  # at the bound
    u.keep(4, b"x", T)
    assert len(u) == 3 and 1 not in u and u.dropped == 1  # one past it
    by_bytes = Unsettled(max_readings=100, max_bytes=10)
    by_bytes.keep(1, b"12345", T)
    by_bytes.keep(2, b"12345", T)
    assert len(by_bytes) == 2  # 10 bytes: at the bound
    by_bytes.keep(3, b"1", T)
    assert 1 not in by_bytes and by_bytes.dropped == 1


def test_a_resend_is_at_most_a_batch_oldest_first_and_all_now_ignores_the_time() -> None:
    u = Unsettled()
    for ts in range(MAX_RESEND_BATCH + 5):
        u.keep(ts, b"x", T)
    first = u.due(T, all_now=True)
    assert [ts for ts, _ in first] == list(range(MAX_RESEND_BATCH))
    # the rest were made due now: the next poll sends them, the first batch waits again
    assert [ts for ts, _ in u.due(T + 1)] == list(range(MAX_RESEND_BATCH, MAX_RESEND_BATCH + 5))
    assert u.due(T + 2) == []


def test_a_device_suspects_its_session_after_a_quiet_spell_with_readings_waiting() -> None:
    u = Unsettled()
    assert not u.suspect(T + 10**9)  # nothing kept: nothing to suspect
    u.keep(1, b"x", T)
    assert not u.suspect(T + SUSPECT_AFTER_MS - 1)
    assert u.suspect(T + SUSPECT_AFTER_MS)
    u.settle([1], T + SUSPECT_AFTER_MS)
    assert not u.suspect(T + 10 * SUSPECT_AFTER_MS)  # nothing waits any more


def test_receipts_number_batches_and_owe_each_device_its_readings() -> None:
    r = Receipts(max_batches=2)
    a = r.batch([("dev-1", 10), ("dev-2", 11)])
    b = r.batch([("dev-1", 12)])
    assert (a, b) == (0, 1)
    assert r.settled(b) == 1 and r.settled(b) == 0  # a repeated receipt settles nothing
    r.refused("dev-2", 13)
    assert r.owed() == {"dev-1": [12], "dev-2": [13]}
    assert r.owed() == {}
    r.batch([("dev-3", 1)])  # 2 remembered: at the bound
    assert r.forgotten == 0
    r.batch([("dev-3", 2)])  # one past it: batch 0 goes, its devices send again
    assert r.forgotten == 1 and r.settled(a) == 0 and r.pending == 2


def test_the_receipts_on_the_wire_are_pinned() -> None:
    assert topics.encode({"settled": [T, T + 1]}) == b'{"settled":[1700000000000,1700000000001]}'
    assert topics.encode({"settled": 7}) == b'{"settled":7}'


def test_every_reading_is_settled_and_the_devices_forget_it(tmp_path: Path) -> None:
    with ExitStack() as stack:
        p = Parties(stack, _memory(stack), tmp_path, attacked=False)
        p.handshake()
        p.tick()
        p.tick()
        assert p.wait_stored(6) == 6
        assert _wait(lambda: all(len(d.unsettled) == 0 for d in p.devices))
        assert p.metrics.counts["resent"] == 0


def test_a_reading_lost_on_the_way_is_sent_again_and_stored_once(tmp_path: Path) -> None:
    with ExitStack() as stack:
        # The gateway's connection loses the first device record.
        p = Parties(stack, _dropping(stack, "gw-1", "dthq/v1/dev/+/up"), tmp_path, attacked=False)
        p.handshake()
        p.tick()
        assert p.wait_stored(2) == 2  # one of three never reached the gateway
        assert _wait(lambda: sum(len(d.unsettled) for d in p.devices) == 1)  # the receipts came
        p.clock.at_ms += RESEND_AFTER_MS
        for d in p.devices:
            d.poll()  # the overdue one goes again
        assert p.wait_stored(3) == 3
        assert _wait(lambda: all(len(d.unsettled) == 0 for d in p.devices))
        assert p.metrics.counts["resent"] == 1 and p.metrics.counts.get("duplicated", 0) == 0


def test_a_reading_stored_but_unreceipted_is_sent_again_and_not_stored_twice(
    tmp_path: Path,
) -> None:
    with ExitStack() as stack:
        # The gateway never hears the cloud's first receipt.
        p = Parties(stack, _dropping(stack, "gw-1", "dthq/v1/gw/+/down"), tmp_path, attacked=False)
        p.handshake()
        p.devices[0].tick()
        assert p.wait_stored(1) == 1
        time.sleep(0.2)
        assert len(p.devices[0].unsettled) == 1  # stored, but no receipt reached it
        p.clock.at_ms += RESEND_AFTER_MS
        p.devices[0].poll()
        assert p.wait_stored(1) == 1
        assert _wait(lambda: len(p.devices[0].unsettled) == 0)
        p.clock.at_ms += 4 * RESEND_AFTER_MS
        p.devices[0].poll()  # nothing is due: the receipt came
        time.sleep(0.2)
        assert p.stored() == 1 and p.metrics.counts["resent"] == 1


@pytest.mark.parametrize(
    "forged",
    [
        topics.frame(topics.RECORD, b"\x00" * 40),  # garbage under no key
        topics.frame(topics.RECORD, b""),
    ],
    ids=["garbage", "empty"],
)
def test_a_forged_receipt_makes_no_device_forget_a_reading(tmp_path: Path, forged: bytes) -> None:
    with ExitStack() as stack:
        # The gateway never gets the readings: no genuine receipt can come.
        bus_for = _dropping(stack, "gw-1", "dthq/v1/dev/+/up", times=-1)
        p = Parties(stack, bus_for, tmp_path, attacked=False)
        p.handshake()
        device = p.devices[0]
        device.tick()
        attacker = bus_for("attacker")
        attacker.publish(topics.device_down(device.id), forged, 1)
        sealed_elsewhere = p.devices[1].session.seal(  # another device's session's record
            json.dumps({"settled": [device._last_ts]}).encode(), p.clock.now_ms()
        )
        attacker.publish(
            topics.device_down(device.id), topics.frame(topics.RECORD, sealed_elsewhere), 1
        )
        assert _wait(lambda: device.error is not None)
        time.sleep(0.1)
        assert len(device.unsettled) == 1


@pytest.mark.parametrize("error", [ValueError("a bug"), "fhir"], ids=["bug", "invalid-bundle"])
def test_a_batch_the_cloud_cannot_take_is_counted_and_the_next_one_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: object
) -> None:
    from dthq.pipeline import cloud
    from dthq.twin import fhir

    real, calls = fhir.bundle, []

    def failing_once(readings):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            raise fhir.FHIRError("invalid at entry.0") if error == "fhir" else error  # type: ignore[misc]
        return real(readings)

    monkeypatch.setattr(cloud.fhir, "bundle", failing_once)
    with ExitStack() as stack:
        p = Parties(stack, _memory(stack), tmp_path, attacked=False)
        p.handshake()
        p.devices[0].tick()
        assert _wait(lambda: sum(p.metrics.rejected.values()) == 1)
        p.devices[1].tick()  # the worker is still there
        assert p.wait_stored(1) == 1
        # The refused reading left the twin as it was: sent again, it is stored, not
        # taken for a duplicate.
        p.clock.at_ms += RESEND_AFTER_MS
        p.devices[0].poll()
        assert p.wait_stored(2) == 2
        assert p.metrics.counts.get("duplicated", 0) == 0
    assert ("cloud error" in p.metrics.failures) == (error != "fhir")


def test_a_gateway_with_no_cloud_session_keeps_its_readings_until_it_has_one(
    tmp_path: Path,
) -> None:
    """The cloud lost its session with the gateway (a fresh cloud): records go up,
    NO_SESSION comes back, the gateway handshakes again from its flush thread (which
    survives), and nothing is lost on the way."""
    from dthq.pipeline.cloud import Cloud

    with ExitStack() as stack:
        p = Parties(stack, _memory(stack), tmp_path, attacked=False)
        p.handshake()
        p.gateway._upstream = None  # as if the session never was, mid-run
        p.tick()
        time.sleep(0.3)
        assert p.gateway._flusher.is_alive()
        assert p.stored() == 0 and len(p.gateway._batch) == 3  # waiting, not dropped
        with p.gateway._lock:
            p.gateway._upstream = p.gateway._upstream_handshake.session
        assert p.wait_stored(3) == 3
        assert isinstance(p.cloud, Cloud)


def test_the_cloud_refuses_qos0_on_a_gateway_topic(tmp_path: Path) -> None:
    with ExitStack() as stack:
        memory = _memory(stack)
        p = Parties(stack, memory, tmp_path, attacked=False)
        p.handshake()
        attacker = memory("attacker")
        for _ in range(5):
            attacker.publish(topics.gateway_up("gw-1"), topics.frame(topics.RECORD, b"x" * 64), 0)
        assert _wait(lambda: p.metrics.rejected.get("cloud: malformed", 0) == 5)
        p.tick()
        assert p.wait_stored(3) == 3


def test_the_gateway_sends_receipts_only_on_its_receipt_ticks(tmp_path: Path) -> None:
    assert RECEIPT_TICKS == 50 and pytest.approx(0.25) == RECEIPT_TICKS * FLUSH_TICK_S
    with ExitStack() as stack:
        p = Parties(stack, _memory(stack), tmp_path, attacked=False)
        p.handshake()
        gateway = p.gateway
        gateway._stop.set()  # ticked by hand from here
        gateway._flusher.join()
        p.tick()
        assert _wait(lambda: len(gateway._batch) == 3)
        gateway._tick(receipts=False)  # the batch goes
        assert p.wait_stored(3) == 3
        assert _wait(lambda: gateway.receipts.pending == 0)  # the cloud settled it
        gateway._tick(receipts=False)
        time.sleep(0.1)
        assert [len(d.unsettled) for d in p.devices] == [1, 1, 1]  # owed, not sent yet
        gateway._tick()
        assert _wait(lambda: all(len(d.unsettled) == 0 for d in p.devices))
