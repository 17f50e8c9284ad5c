"""Held rates: what "held" means (exactly once, the rate kept, p99 at most 100 ms), the
search's probe sequence on a fake deterministic subject, its boundaries, the bare paho
pair's counting (and one real window through Mosquitto), and the cloud's FHIR switch."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest
from test_reports import _run, results

from dthq.errors import UnsupportedError
from dthq.harness import held, pair
from dthq.harness.pair_subscriber import Counter
from dthq.harness.results import HeldProbe, HeldRate
from dthq.pipeline.run import SimConfig, simulate
from reports.verdicts.outcome import Outcome


def measured(rate: float, p99_ms: float, **kw: object) -> HeldProbe:
    """A probe at ``rate`` for 1 s that delivered everything with the given p99."""
    sent = int(kw.pop("sent", rate))
    fields = {
        "offered_per_s": rate, "sent": sent, "sent_per_s": float(sent),
        "delivered_once": sent, "duplicated": 0, "lost": 0, "p50_ms": 1.0, "p99_ms": p99_ms,
    }  # fmt: skip
    fields.update(kw)
    return HeldProbe(**fields)  # type: ignore[arg-type]


def linear(rate: float) -> HeldProbe:
    """p99 grows with the rate: 100 ms, the limit, at exactly 1,000/s."""
    return measured(rate, rate / 10)


def rates(found: held.Found) -> list[tuple[float, bool]]:
    return [(p.offered_per_s, p.held) for p in found.probes]


def test_doubling_then_bisection_finds_the_threshold_to_the_precision() -> None:
    found = held.search(linear, lo=10, hi=100_000, start=100, precision=0.05)
    assert rates(found) == [
        (100, True), (200, True), (400, True), (800, True), (1600, False),
        (1131, False), (951, True), (1037, False), (993, True),
    ]  # fmt: skip
    assert (found.held_per_s, found.capped) == (993, False)
    assert found.probes[4].why_not == "p99 160 ms > 100 ms"


def test_a_failing_start_halves_down_to_a_held_rate() -> None:
    found = held.search(linear, lo=10, hi=100_000, start=5000, precision=0.25)
    assert rates(found) == [(5000, False), (2500, False), (1250, False), (625, True), (884, True),
                            (1051, False)]  # fmt: skip
    assert found.held_per_s == 884  # 1,051 / 884 < 1.25: within the precision


def test_held_at_exactly_the_limit_and_not_just_past_it() -> None:
    assert held.why_not(measured(1000, 100.0)) == ""
    assert held.why_not(measured(1000, 100.001)) == "p99 100.001 ms > 100 ms"
    step = lambda r: measured(r, 100.0 if r <= 1000 else 100.001)  # noqa: E731
    found = held.search(step, lo=10, hi=1000, start=500)
    assert rates(found) == [(500, True), (1000, True)]
    assert (found.held_per_s, found.capped) == (1000, True)


def test_nothing_held_at_lo() -> None:
    found = held.search(lambda r: measured(r, 101.0), lo=10, hi=1000, start=100)
    assert rates(found) == [(100, False), (50, False), (25, False), (12.5, False), (10, False)]
    assert (found.held_per_s, found.capped) == (None, False)


def test_everything_held_up_to_hi() -> None:
    found = held.search(lambda r: measured(r, 5.0), lo=10, hi=1000, start=100)
    assert rates(found) == [(100, True), (200, True), (400, True), (800, True), (1000, True)]
    assert (found.held_per_s, found.capped) == (1000, True)


@pytest.mark.parametrize(
    ("probe", "why"),
    [
        (measured(1000, 5.0, sent_per_s=980.0), ""),  # 2 % short: kept
        (measured(1000, 5.0, sent_per_s=979.9), "sent 980/s of 1,000/s offered"),
        (measured(1000, 5.0, delivered_once=997, lost=3), "3 lost"),
        (measured(1000, 5.0, duplicated=2), "2 duplicated"),
        (measured(1000, 5.0, delivered_once=990), "10 unaccounted for"),
        (measured(1000, None, sent=0), "nothing sent; no latency measured"),
        (
            measured(1000, 250.0, delivered_once=900, lost=100),
            "100 lost; p99 250 ms > 100 ms",
        ),
        (measured(1000, 5.0, why_not="run failed: no handshake"), "run failed: no handshake"),
    ],
)
def test_every_reason_a_rate_is_not_held(probe: HeldProbe, why: str) -> None:
    assert held.why_not(probe) == why


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"lo": 0, "hi": 10}, "0 < lo <= hi, got 0 and 10"),
        ({"lo": 20, "hi": 10}, "0 < lo <= hi, got 20 and 10"),
        ({"lo": 1, "hi": 10, "precision": 0}, "within (0, 1), got 0"),
        ({"lo": 1, "hi": 10, "precision": 1}, "within (0, 1), got 1"),
    ],
)
def test_a_search_without_a_range_is_refused(kw: dict[str, float], message: str) -> None:
    calls: list[float] = []
    with pytest.raises(UnsupportedError, match=message.replace("(", r"\(").replace(")", r"\)")):
        held.search(lambda r: calls.append(r) or linear(r), **kw)  # type: ignore[func-returns-value]
    assert calls == []


def test_a_pipeline_run_as_a_probe() -> None:
    got = held.from_pipeline(_run("immediate", 100, 10.0, e2e_ms=900.0, lost=50))
    assert got == HeldProbe(1000.0, 1000, 1000.0, 950, 0, 50, 900.0, 1800.0)
    assert held.why_not(got) == "50 lost; p99 1800 ms > 100 ms"


def _message(seq: int, sent_ns: int) -> SimpleNamespace:
    return SimpleNamespace(payload=pair.payload(seq, sent_ns, 125))


def test_the_pair_s_subscriber_counts_each_sequence_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.perf_counter_ns", lambda: 5_000_000)
    counter = Counter()
    for seq, sent in ((0, 4_000_000), (1, 3_000_000), (0, 1_000_000), (2, 2_000_000)):
        counter.on_message(None, None, _message(seq, sent))
    assert counter.summary() == {
        "unique": 3, "duplicated": 1, "p50_ms": 2.0, "p99_ms": pytest.approx(2.98), "max_ms": 3.0,
    }  # fmt: skip
    assert len(pair.payload(7, 1, 125)) == 125 and pair.MIN_PAYLOAD == 16


@pytest.mark.requires("mosquitto")
def test_one_window_of_the_pair_through_mosquitto() -> None:
    from dthq.transport.brokers import MosquittoBroker

    with MosquittoBroker() as broker:
        got = pair.probe(broker.url, broker.protocol, 200, window_s=0.5, payload_bytes=125)
    assert (got.sent, got.delivered_once, got.duplicated, got.lost) == (100, 100, 0, 0)
    assert got.p50_ms is not None and got.p99_ms is not None and got.p50_ms <= got.p99_ms


def test_without_fhir_the_cloud_builds_no_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(_readings: object) -> None:
        raise AssertionError("a Bundle was built")

    monkeypatch.setattr("dthq.twin.fhir.bundle", refuse)
    config = SimConfig(patients=2, rate_hz=10, duration_s=1, transport="memory", fhir=False)
    run = simulate(config)
    assert run.counts["delivered"] == run.counts["sent"] > 0
    with pytest.raises(UnsupportedError, match="a FHIR destination needs"):
        SimConfig(fhir=False, fhir_url="http://127.0.0.1:1/fhir")


@pytest.mark.parametrize(
    ("pair_capped", "pipeline_capped", "ratio", "verdict"),
    [
        # each search's true rate lies within its precision (25 %) above its held rate:
        # the ratio within [ratio / 1.25, ratio * 1.25]
        (False, False, 0.7, Outcome.HOLDS),  # [0.56, 0.875]
        (False, False, 0.6, Outcome.WITHIN_NOISE),  # [0.48, 0.75]
        (False, False, 0.38, Outcome.DOES_NOT_HOLD),  # [0.304, 0.475]
        (True, False, 0.6, Outcome.WITHIN_NOISE),  # the pair could hold more: [0, 0.75]
        (True, False, 0.4, Outcome.WITHIN_NOISE),  # [0, 0.5]: its high end at the limit
        (True, False, 0.38, Outcome.DOES_NOT_HOLD),  # at most 0.475: missed whatever it holds
        (False, True, 0.6, Outcome.WITHIN_NOISE),  # the pipeline could hold more: [0.48, inf]
        (False, True, 0.7, Outcome.HOLDS),  # [0.56, inf]
    ],
)
def test_a_held_ratio_is_judged_on_the_searches_brackets(
    pair_capped: bool, pipeline_capped: bool, ratio: float, verdict: Outcome
) -> None:
    from reports.verdicts.targets import TARGETS

    def search(subject: str, rate: float, capped: bool) -> HeldRate:
        return HeldRate(subject, "mosquitto version 2.0.11", 1, 125, 2.0, 0.25, 100.0,
                        rate, capped, ())  # fmt: skip

    found = dataclasses.replace(
        results(),
        held=(search("paho pair", 1000.0, pair_capped), search("pipeline", 1000 * ratio,
                                                                pipeline_capped)),
    )  # fmt: skip
    spec = next(t for t in TARGETS if t.name.endswith("through mosquitto"))
    assert spec.judged(found).outcome is verdict


def test_a_run_that_fails_is_a_probe_not_held_with_its_reason() -> None:
    def refused() -> Any:
        raise UnsupportedError("no handshake in 60 s")

    probe = held.probe_of(250.0, refused)
    assert (probe.offered_per_s, probe.sent, probe.delivered_once) == (250.0, 0, 0)
    assert probe.why_not == "run failed: no handshake in 60 s"
    assert held.why_not(probe) == "run failed: no handshake in 60 s"
