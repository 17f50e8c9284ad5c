"""Time is authenticated: a reading's ts is bound to its record's authenticated
timestamp at the gateway, records and readings from beyond the skew are refused by name,
and no single reading dated ten years ahead can freeze a twin, live or restored."""

from __future__ import annotations

import os
import time
from contextlib import closing

import pytest
from helpers import SteppingClock

from dthq.errors import FutureError
from dthq.harness.telemetry import encode
from dthq.pipeline import gateway as gateway_module
from dthq.pipeline import topics
from dthq.pipeline.cloud import Cloud
from dthq.pipeline.device import Device
from dthq.pipeline.gateway import TS_AHEAD_MS, TS_BEHIND_MS, Gateway, check_dated
from dthq.pipeline.metrics import Metrics
from dthq.pipeline.provision import Registry
from dthq.transport.bus import MemoryBus
from dthq.twin.reading import Reading, ReadingError
from dthq.twin.store import Store
from dthq.twin.twin import MAX_SKEW_MS, PatientTwin

T0 = 1_700_000_000_000
TEN_YEARS_MS = 10 * 365 * 86_400_000


def _reading(ts: int, spo2: float = 97.0, hr: float = 72.0) -> Reading:
    return Reading("P1", ts, hr, spo2, 37.0)


def test_the_tolerance_between_a_reading_and_its_record_holds_at_its_bounds() -> None:
    assert (TS_AHEAD_MS, TS_BEHIND_MS) == (2_000, 21_600_000)  # 2 s; 6 h (resends)
    check_dated(_reading(T0 + 2_000), T0)
    check_dated(_reading(T0 - 21_600_000), T0)
    with pytest.raises(FutureError, match="2001 ms after its record's timestamp"):
        check_dated(_reading(T0 + 2_001), T0)
    with pytest.raises(ReadingError, match="21600001 ms before its record's timestamp"):
        check_dated(_reading(T0 - 21_600_001), T0)


def test_a_twin_rebuilt_leaves_out_readings_beyond_the_skew() -> None:
    assert MAX_SKEW_MS == 2_000
    twin = PatientTwin.from_readings(
        "P1", [_reading(T0 - 1000), _reading(T0 + 2_000), _reading(T0 + 2_001)], now_ms=T0
    )
    assert [r.ts for r in twin.history] == [T0 - 1000, T0 + 2_000]
    assert twin.future == 1


class _Edge:
    """A device, the gateway and the cloud on one memory bus, each on its own clock."""

    def __init__(self, tmp_path, device_ms: int = T0, cloud_ms: int = T0) -> None:  # type: ignore[no-untyped-def]
        self.registry = Registry()
        self.registry.add_gateway("gw-1")
        self.registry.add_device("dev-1", "P1")
        self.metrics = Metrics()
        self.bus = MemoryBus()
        self.store = Store(tmp_path / "t.db", os.urandom(32))
        self.cloud = Cloud(
            self.registry, self.bus, self.metrics, self.store, clock=SteppingClock(cloud_ms)
        )
        self.gateway = Gateway(
            "gw-1", self.registry, self.bus, self.bus, self.metrics, clock=SteppingClock(T0)
        )
        self.gateway.connect(10)
        self.device = Device(
            "dev-1", "gw-1", self.registry, self.bus, self.metrics, clock=SteppingClock(device_ms)
        )
        self.device.handshake()
        self.device.wait_established(10)

    def send(self, ts: int, spo2: float = 97.0, hr: float = 72.0, stamp_ms: int = T0) -> None:
        """A reading sealed by the device's session with the record timestamp given."""
        session = self.device.session
        assert session is not None
        payload = encode({"pid": "P1", "ts": ts, "hr": hr, "spo2": spo2, "temp": 37.0})
        record = session.seal(payload, stamp_ms)
        self.metrics.count("sent")  # sent, as a device's tick stamps it
        self.metrics.trace(("P1", ts)).sent_ns = time.perf_counter_ns()
        self.bus.publish(topics.device_up("dev-1"), topics.frame(topics.RECORD, record))

    def settle(self) -> None:
        self.bus.drain()
        self.gateway._flush()
        self.bus.drain()
        assert self.cloud.wait_idle(10)

    def close(self) -> None:
        self.gateway.close()
        self.cloud.close()
        self.bus.close()
        self.store.close()


def test_a_reading_ten_years_ahead_is_refused_and_the_critical_ones_after_it_alert(
    tmp_path,
) -> None:
    edge = _Edge(tmp_path)
    try:
        edge.send(T0, stamp_ms=T0)
        edge.send(T0 + TEN_YEARS_MS, stamp_ms=T0 + 1)  # the device's sensor clock fault
        edge.send(T0 + 1000, spo2=85.0, hr=135.0, stamp_ms=T0 + 1000)  # critical
        edge.settle()
        m = edge.metrics
        assert m.rejected == {"gateway: from the future": 1}
        assert "after its record's timestamp" in m.examples["gateway: from the future"]
        assert [(pid, ts, why) for pid, ts, _, why in m.alerts] == [
            ("P1", T0 + 1000, "hr, spo2 scores 3")
        ]
        assert edge.cloud.twins["P1"].latest.ts == T0 + 1000  # type: ignore[union-attr]
        assert [r.ts for r in edge.store.readings("P1")] == [T0, T0 + 1000]
    finally:
        edge.close()


@pytest.mark.parametrize(("ahead_ms", "refused"), [(2_000, False), (2_001, True)])
def test_a_record_from_beyond_the_skew_is_refused_at_the_gateway(
    tmp_path, ahead_ms: int, refused: bool
) -> None:
    edge = _Edge(tmp_path, device_ms=T0 + ahead_ms)  # the device's whole clock ahead
    try:
        assert edge.device.tick()
        edge.settle()
        m = edge.metrics
        assert m.rejected == ({"gateway: from the future": 1} if refused else {})
        assert len(list(edge.store.readings("P1"))) == (0 if refused else 1)
    finally:
        edge.close()


@pytest.mark.parametrize(("ahead_ms", "refused"), [(2_000, False), (2_001, True)])
def test_the_cloud_refuses_a_reading_beyond_its_clock_and_skew(
    tmp_path, monkeypatch, ahead_ms: int, refused: bool
) -> None:
    """A gateway that lets a reading through (an old one: no binding) does not get it
    into the twin: the cloud judges it by its own clock."""
    monkeypatch.setattr(gateway_module, "TS_AHEAD_MS", TEN_YEARS_MS * 2)
    edge = _Edge(tmp_path)
    try:
        edge.send(T0 + ahead_ms, stamp_ms=T0)
        edge.settle()
        m = edge.metrics
        assert m.rejected == ({"cloud: from the future": 1} if refused else {})
        assert m.counts["rejected_sent"] == (1 if refused else 0)
        assert len(list(edge.store.readings("P1"))) == (0 if refused else 1)
    finally:
        edge.close()


def test_a_twin_restored_from_a_store_holding_a_future_reading_is_not_frozen(
    tmp_path,
) -> None:
    secret = os.urandom(32)
    with closing(Store(tmp_path / "old.db", secret)) as old:  # written before the bounds
        old.put([_reading(T0 - 2000), _reading(T0 + TEN_YEARS_MS), _reading(T0 - 1000)])
    registry = Registry()
    registry.add_gateway("gw-1")
    metrics = Metrics()
    with closing(MemoryBus()) as bus, closing(Store(tmp_path / "old.db", secret)) as store:
        cloud = Cloud(registry, bus, metrics, store, clock=SteppingClock(T0))
        try:
            twin = cloud.twins["P1"]
            assert twin.latest is not None and twin.latest.ts == T0 - 1000
            alert = cloud.twins.apply(_reading(T0, spo2=85.0, hr=135.0))
            assert alert is not None and alert.reason == "hr, spo2 scores 3"
        finally:
            cloud.close()
