"""The pipeline's collector keeps bounded memory: traces only in flight (evicted past a
bound, counted), latencies in HDR histograms whose figures match the exact samples'
to the stated precision, a bounded window for the live figures, alerts counted."""

from __future__ import annotations

import json
import math
import random

import pytest

from dthq.harness.results import Distribution
from dthq.pipeline.metrics import (
    ALERT_RELEVANT,
    E2E,
    HIGHEST_NS,
    RECENT_ALERTS,
    Metrics,
    Recorder,
    Trace,
    histogram,
)

FIELDS = ("median", "q1", "q3", "p95", "p99")
AT = {"median": 0.5, "q1": 0.25, "q3": 0.75, "p95": 0.95, "p99": 0.99}


def _hist(ns: list[int]):  # type: ignore[no-untyped-def]
    h = histogram()
    for v in ns:
        h.record_value(v)
    return h


def test_histogram_figures_match_the_exact_quantiles_within_1_in_2048() -> None:
    rng = random.Random(21)
    ns = [round(rng.lognormvariate(math.log(2e6), 0.8)) for _ in range(10_000)]  # ~2 ms
    exact = Distribution.from_samples([v / 1e9 for v in ns], 1000)
    got = Distribution.from_histogram(_hist(ns), 1000)
    ordered = sorted(ns)
    assert got.rounds == exact.rounds == 10_000
    for name in FIELDS:
        pos = (len(ordered) - 1) * AT[name]
        bound = ordered[math.ceil(pos)] / 1e6 / 2048  # of the larger sample, in ms
        assert abs(getattr(got, name) - getattr(exact, name)) <= bound, name
    assert abs(got.min - exact.min) <= exact.min / 2048  # type: ignore[operator]
    assert abs(got.iqr - exact.iqr) <= exact.q3 / 1024  # type: ignore[operator]


def test_histogram_is_exact_below_2048_ns_and_bucketed_from_there() -> None:
    ns = [100, 200, 300, 2047]
    exact = Distribution.from_samples([v / 1e9 for v in ns], 1e9)
    got = Distribution.from_histogram(_hist(ns), 1e9)
    for name in (*FIELDS, "min", "iqr"):
        assert getattr(got, name) == pytest.approx(getattr(exact, name), rel=1e-12), name
    # 2048 and 2049 share a 2 ns bucket: both read as its middle.
    assert Distribution.from_histogram(_hist([2048]), 1e9).median == 2048.5
    assert Distribution.from_histogram(_hist([2049]), 1e9).median == 2048.5
    assert Distribution.from_histogram(_hist([2047]), 1e9).median == 2047


def test_an_empty_histogram_has_no_distribution() -> None:
    with pytest.raises(ValueError, match="no samples"):
        Distribution.from_histogram(histogram())


def _send(m: Metrics, key: tuple[str, int], start_ns: int, e2e_ns: int) -> None:
    t = m.trace(key)
    t.start_ns, t.sent_ns = start_ns, start_ns + 10
    t.acquire = 1e-6
    m.count("sent")
    t = m.trace(key)
    t.gw_in_ns, t.gw_out_ns, t.cloud_in_ns = start_ns + 20, start_ns + 30, start_ns + 40
    t.done_ns = start_ns + e2e_ns


def _deliver(m: Metrics, key: tuple[str, int], start_ns: int, e2e_ns: int) -> None:
    _send(m, key, start_ns, e2e_ns)
    m.deliver(key)


def test_n_readings_through_the_collector_leave_no_trace_behind() -> None:
    m = Metrics()
    for i in range(20_000):
        _deliver(m, (f"P{i % 100}", i), i * 1000, 5_000_000)
    assert m.traces == {}
    assert len(m._recent) == m.recent_max
    assert m.settled() == (20_000, 20_000)
    run = _summary(m)
    assert run.counts["delivered"] == 20_000 and run.counts["lost"] == 0
    assert run.end_to_end is not None and run.end_to_end.rounds == 20_000
    assert abs(run.end_to_end.median - 5.0) <= 5.0 / 2048
    assert run.stages["acquire"].median == pytest.approx(0.001)  # 1,000 ns: exact


def _summary(m: Metrics):  # type: ignore[no-untyped-def]
    return m.summary(
        transport="memory", broker="", protocol="", patients=1, rate_hz=1.0, duration_s=1.0,
        qos=1, policy="fixed", offered_per_s=1.0,
    )  # fmt: skip


def test_traces_in_flight_are_bounded_and_the_evicted_still_count_as_lost() -> None:
    m = Metrics(in_flight_max=4)
    for i in range(4):
        _send(m, ("P1", i), 0, 1000)
    assert len(m.traces) == 4 and m.evicted == 0  # at the bound
    _send(m, ("P1", 4), 0, 1000)
    assert len(m.traces) == 4 and m.evicted == 1  # one past: the oldest goes
    assert ("P1", 0) not in m.traces
    assert _summary(m).counts["lost"] == 5
    # The evicted reading arrives after all: delivered (once), its latency unknown.
    m.trace(("P1", 0)).done_ns = 2000
    m.deliver(("P1", 0))
    assert m.settled() == (1, 5)
    run = _summary(m)
    assert run.counts["delivered"] == 1 and run.counts["lost"] == 4
    assert run.end_to_end is None
    m.trace(("P1", 0)).done_ns = 3000  # and again: a duplicate, not a delivery
    m.deliver(("P1", 0))
    assert m.settled() == (1, 5)


def test_a_cloud_alone_has_its_stages_and_no_end_to_end() -> None:
    m = Metrics()
    t = m.trace(("P1", 1))
    t.decrypt, t.twin, t.done_ns = 0.002, 0.001, 5
    m.deliver(("P1", 1))
    assert m.settled() == (0, 0)  # it sent nothing
    assert m.medians_ms() == {
        "decrypt": pytest.approx(2.0, rel=1 / 2048),
        "twin": pytest.approx(1.0, rel=1 / 2048),
        "fhir": 0.0,
        "store": 0.0,
    }
    assert m.recent() == {}


def test_recent_reads_a_bounded_window_of_the_latest_deliveries() -> None:
    m = Metrics(recent_max=3)
    for i, e2e_ms in enumerate([100, 1, 2, 3]):
        _deliver(m, ("P1", i), 0, e2e_ms * 1_000_000)
        if i == 2:  # at the bound: all three
            assert m.recent()["e2e_p50"] == pytest.approx(2.0)
    assert m.recent()["e2e_p50"] == pytest.approx(2.0)  # one past: 100 ms fell out
    assert m.recent()["e2e_p99"] == pytest.approx(2.98)
    assert m.recent(1)["e2e_p50"] == pytest.approx(3.0)
    assert m.recent(0) == {}


def test_refused_readings_settle_and_take_their_trace_with_them() -> None:
    m = Metrics()
    _send(m, ("P1", 7), 0, 1000)
    m.refuse_sent("P1", json.dumps({"pid": "P1", "ts": 7, "spo2": 101.5}).encode())
    assert m.traces == {} and m.settled() == (1, 1)
    _send(m, ("P1", 8), 0, 1000)
    m.refuse_sent("P1", b"not json")  # settled; the trace waits for eviction
    assert m.settled() == (2, 2) and len(m.traces) == 1
    assert _summary(m).counts["lost"] == 0


def test_alerts_are_counted_the_latest_kept_and_the_first_after_onset_timed() -> None:
    m = Metrics()
    m.onsets["P1"] = 10_000
    m.alert("P1", 9_000, "before the onset")
    for i in range(RECENT_ALERTS):
        m.alert("P1", 12_000 + i, "after")
    assert len(m.alerts) == RECENT_ALERTS  # at the bound
    m.alert("P2", 11_000, "no onset")
    assert len(m.alerts) == RECENT_ALERTS and m.alerts[-1][0] == "P2"  # one past
    run = _summary(m)
    assert run.alerts == RECENT_ALERTS + 2
    assert run.detection_delay_s is not None
    assert run.detection_delay_s.median == 2.0 and run.detection_delay_s.rounds == 1


def test_a_reading_refused_twice_is_counted_once_and_one_never_in_flight_not_at_all() -> None:
    m = Metrics()
    m.count("sent")
    m.trace(("P1", 5)).sent_ns = 1  # as the device stamps it
    m.refuse("P1", 5)
    m.trace(("P1", 5))  # sent again before its receipt came: the gateway's trace, unstamped
    m.refuse("P1", 5)  # refused again: the same reading, not counted twice
    m.refuse("P1", 6)  # no trace here: not counted, so never hides a loss
    assert m.counts["rejected_sent"] == 1 and m.settled() == (1, 1)
    m.refuse(None, None)  # no key: each refusal counts
    assert m.counts["rejected_sent"] == 2


@pytest.mark.parametrize(
    "ns",
    [0, 1, 2047, 2048, 2049, 4095, 4096, 4097, 10**6, 10**9 + 1, HIGHEST_NS - 1, HIGHEST_NS],
)
def test_the_recorder_records_exactly_as_hdrh_does(ns: int) -> None:
    """At each bucket's edges and the histogram's ends: the same counts, total, min, max."""
    mine, theirs = histogram(), histogram()
    Recorder(mine).record(ns / 1e9)
    theirs.record_value(ns)
    assert list(mine.counts) == list(theirs.counts)
    assert (mine.total_count, mine.min_value, mine.max_value) == (1, ns, ns)
    assert (theirs.total_count, theirs.min_value, theirs.max_value) == (1, ns, ns)


def test_the_recorder_clamps_below_zero_and_past_an_hour() -> None:
    h = histogram()
    recorder = Recorder(h)
    recorder.record(-3e-9)  # two stamps a few ns out of order: it took none
    recorder.record(HIGHEST_NS / 1e9 + 1)  # recorded as the hour
    assert (h.total_count, h.min_value, h.max_value) == (2, 0, HIGHEST_NS)


def test_cpu_is_charged_when_the_block_raises_too() -> None:
    m = Metrics()
    with m.cpu("cloud"):
        sum(range(10_000))
    with pytest.raises(ZeroDivisionError), m.cpu("cloud"):
        _ = 1 / 0
    assert set(m.cpu_s) == {"cloud"} and m.cpu_s["cloud"] >= 0


def _shaped(rng: random.Random, shape: str) -> Trace:
    t = Trace(acquire=rng.random() * 1e-4, compress=rng.random() * 1e-4, encrypt=1e-5,
              gw_decrypt=2e-5, decrypt=3e-5, twin=rng.random() * 1e-3, fhir=1e-3, store=2e-3,
              alert_relevant=rng.random() < 0.3)  # fmt: skip
    if shape != "cloud only":
        t.start_ns = rng.randrange(1, 10**9)
        t.sent_ns = t.start_ns + rng.randrange(0, 10**5)
    if shape in ("every hop", "not done"):
        t.gw_in_ns = t.sent_ns + rng.randrange(0, 10**6)
        t.gw_out_ns = t.gw_in_ns + rng.randrange(0, 10**6)
        t.cloud_in_ns = t.gw_out_ns + rng.randrange(-5, 10**6)  # a few ns out of order
    if shape != "not done":
        t.done_ns = max(t.cloud_in_ns, t.sent_ns) + rng.randrange(0, 10**7)
    return t


@pytest.mark.parametrize("shape", ["every hop", "no gateway stamps", "cloud only", "not done"])
def test_delivery_records_what_stages_and_end_to_end_give(shape: str) -> None:
    """The fast path for a reading seen at every hop, and the general one, against the
    trace's own stages() and end_to_end_s recorded one by one with hdrh."""
    rng = random.Random(shape)
    m, expected = Metrics(), {}
    for i in range(300):
        trace = m.traces[("P1", i)] = _shaped(rng, shape)
        values = dict(trace.stages())
        if trace.end_to_end_s is not None:
            values[E2E] = trace.end_to_end_s
            if trace.alert_relevant:
                values[ALERT_RELEVANT] = trace.end_to_end_s
        for name, seconds in values.items():
            h = expected.setdefault(name, histogram())
            h.record_value(min(HIGHEST_NS, max(0, round(seconds * 1e9))))
        m.deliver(("P1", i))
    assert set(m.histograms) == set(expected)
    for name, h in expected.items():
        got = m.histograms[name]
        assert list(got.counts) == list(h.counts), name
        assert (got.total_count, got.min_value, got.max_value) == (
            h.total_count, h.min_value, h.max_value,
        )  # fmt: skip
