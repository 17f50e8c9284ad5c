"""The paper's §7.1 as it ran it: the no-twin policy sends nothing back to the edge, the
sweep's points round-trip, and each judge reads the whole sweep over all readings, with
the subset beside, in words."""

from __future__ import annotations

import base64
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import pytest

from bench.ingest import read_results
from dthq.errors import UnsupportedError
from dthq.fleet.config import FleetConfig
from dthq.harness.results import Distribution, Metadata, PipelineRun, PolicyPoint, Results
from dthq.harness.results_json import decode, dump, plain
from dthq.harness.telemetry import TelemetryGenerator
from dthq.pipeline.clock import SYSTEM_CLOCK
from dthq.pipeline.gateway import POLICIES
from dthq.pipeline.run import Pipeline, SimConfig
from dthq.twin.reading import Reading
from reports import policy_sweep
from reports.policy_sweep import LATENCY, change, direction
from reports.verdicts.outcome import Outcome
from reports.verdicts.section71 import CLAIMS

LATENCY_CLAIM, THROUGHPUT_CLAIM, EFFICIENCY_CLAIM = CLAIMS


def _piped(policy: str) -> tuple[Pipeline, PipelineRun, int]:
    """Two deteriorating patients, 30 readings each, in memory: the first scores 2 or more
    from its 16th reading (seeded telemetry), so a twin has a watch list to send. With
    the pipeline, its run and how many of the first patient's readings were stored."""
    config = SimConfig(
        patients=2,
        rate_hz=4.0,
        transport="memory",
        policy=policy,
        deteriorating=1.0,
        onset_s=0.0,
        deterioration_speed=100.0,
    )
    with ExitStack() as stack:
        pipe = Pipeline(config, stack, SYSTEM_CLOCK)
        for _ in range(30):
            for device in pipe.devices:
                device.tick()
        assert pipe.drain()
        # The watch list follows the batch's commit, which is what drain waits for.
        deadline = time.monotonic() + 1.0
        while not pipe.gateway.watched and time.monotonic() < deadline:
            time.sleep(0.02)
        return pipe, pipe.summary(), len(list(pipe.store.readings("P00001")))


def test_without_the_twin_only_receipts_flow_back_to_the_edge() -> None:
    # The same edge as fixed, with no twin behind it.
    assert replace(POLICIES["no-twin"], name="fixed", twin=True) == POLICIES["fixed"]
    twin, with_twin, _ = _piped("fixed")
    assert with_twin.bytes_up["cloud"] > 0 and "P00001" in twin.gateway.watched
    bare, without, stored = _piped("no-twin")
    # No watch list: what comes back is each batch's receipt alone, smaller than with it.
    assert 0 < without.bytes_up["cloud"] < with_twin.bytes_up["cloud"]
    assert bare.gateway.watched == frozenset()
    assert (without.alerts, len(bare.cloud.twins)) == (0, 0)
    assert without.counts["delivered"] == without.counts["sent"] == 60
    assert stored == 30
    # The readings that count as alert-relevant do not depend on the policy.
    assert without.alert_relevant.rounds == with_twin.alert_relevant.rounds > 0  # type: ignore[union-attr]


def _run(policy: str, latency: float, relevant: float, per_s: float, cpu_s: float, wire: int):  # type: ignore[no-untyped-def]
    def d(ms: float) -> Distribution:
        return Distribution(median=ms, iqr=1.0, rounds=10, p99=2 * ms)

    return PipelineRun(
        transport="mqtt",
        broker="mosquitto 2",
        protocol="MQTT 5",
        patients=8,
        rate_hz=2.0,
        duration_s=5.0,
        qos=1,
        policy=policy,
        stages={},
        end_to_end=d(latency),
        alert_relevant=d(relevant),
        offered_per_s=16.0,
        sent_per_s=per_s,
        delivered_per_s=per_s,
        counts={"sent": 100, "delivered": 100},
        rejected={},
        alerts=3,
        detection_delay_s=None,
        bytes_up={"device": wire // 2, "gateway": wire - wire // 2},
        cpu_s={"gateway": cpu_s},
    )


def _sweep(*points: tuple[int, PipelineRun]) -> Results:
    return Results(
        Metadata("quick", 100, {}), policy_sweep=tuple(PolicyPoint(n, r) for n, r in points)
    )


BASE = _run("no-twin", 100.0, 100.0, 16.0, 1.0, 100_000)


def test_a_sweep_point_round_trips(tmp_path: Path) -> None:
    results = _sweep((1_000, BASE), (1_000, _run("adaptive", 182.0, 50.0, 16.0, 1.0, 100_000)))
    assert read_results(dump(results, tmp_path / "r.json")) == results
    point = results.policy_sweep[1]
    assert decode(PolicyPoint, plain(point), "tag") == point  # as bench/ingest reads a tag


def test_latency_is_judged_over_all_readings_with_the_subset_beside() -> None:
    # All readings 82 % slower with the twin, the alert-relevant ones 50 % faster: the
    # headline is all readings.
    slower = _sweep((1_000, BASE), (1_000, _run("adaptive", 182.0, 50.0, 16.0, 1.0, 100_000)))
    claim = LATENCY_CLAIM.judged(slower)
    assert claim.outcome is Outcome.DOES_NOT_HOLD
    assert claim.paper == "40%" and "40% latency reduction" in claim.wording
    assert claim.ours == (
        "with the twin, latency over all readings is 82 % higher (0 of 1 sizes meet 40 % "
        "lower); beside, a subset: with the twin, latency of alert-relevant readings is "
        "50 % lower"
    )
    assert "median time from a reading's acquisition" in claim.definition
    faster = _sweep((1_000, BASE), (1_000, _run("adaptive", 55.0, 150.0, 16.0, 1.0, 100_000)))
    claim = LATENCY_CLAIM.judged(faster)
    assert claim.outcome is Outcome.HOLDS
    assert claim.ours.startswith("with the twin, latency over all readings is 45 % lower")


def test_the_verdict_is_the_whole_sweep_not_one_size() -> None:
    # 50 % lower at 1 kB, twice as high at 10 kB: over the sweep the same.
    mixed = _sweep(
        (1_000, BASE),
        (1_000, _run("adaptive", 50.0, 50.0, 16.0, 1.0, 100_000)),
        (10_000, BASE),
        (10_000, _run("adaptive", 200.0, 50.0, 16.0, 1.0, 100_000)),
    )
    got = change(mixed, LATENCY)
    assert got is not None and got.per_size == {1_000: 0.5, 10_000: 2.0}
    assert (round(got.overall, 9), got.sizes_meeting(0.40)) == (1.0, 1)
    claim = LATENCY_CLAIM.judged(mixed)
    assert claim.outcome is Outcome.DOES_NOT_HOLD
    assert claim.ours.startswith("with the twin, latency over all readings is the same")


def test_readings_that_disagree_give_depends_on_the_definition() -> None:
    # Delivered per second is the offered load under both; per CPU-second 50 % higher.
    lighter = _sweep((1_000, BASE), (1_000, _run("adaptive", 100.0, 100.0, 16.0, 0.5, 100_000)))
    claim = THROUGHPUT_CLAIM.judged(lighter)
    assert claim.outcome is Outcome.DEPENDS_ON_DEFINITION
    assert claim.verdict.startswith(
        "depends on the definition: holds as throughput per CPU-second, does not as "
        "throughput at the offered load over the whole sweep"
    )
    # Fewer bytes on the wire and less CPU: efficiency holds under both readings.
    leaner = _sweep((1_000, BASE), (1_000, _run("adaptive", 100.0, 100.0, 16.0, 0.5, 50_000)))
    assert EFFICIENCY_CLAIM.judged(leaner).outcome is Outcome.HOLDS
    assert "messages per MB on the wire is 100 % higher" in EFFICIENCY_CLAIM.judged(leaner).ours


def test_without_the_sweep_nothing_is_judged() -> None:
    empty = _sweep()
    for spec in CLAIMS:
        claim = spec.judged(empty)
        assert (claim.outcome, claim.ours) == (Outcome.NOT_MEASURED, "-")
    assert policy_sweep.section(empty) is None


@pytest.mark.parametrize(
    ("ratio", "words"),
    [(1.819, "82 % higher"), (0.6, "40 % lower"), (1.004, "the same (within 0.5 %)")],
)
def test_a_change_in_words(ratio: float, words: str) -> None:
    assert direction(ratio) == words


def test_the_section_lays_out_each_size_and_policy(tmp_path: Path) -> None:
    results = _sweep((1_000, BASE), (1_000, _run("adaptive", 182.0, 50.0, 16.0, 2.0, 100_000)))
    section = policy_sweep.section(results)
    assert section is not None and section.file == "section71.md"
    table, changes = section.tables[0], section.tables[1]
    assert [row[:2] for row in table.rows] == [["1 kB", "no-twin"], ["1 kB", "adaptive"]]
    assert table.rows[1][3:] == ["100 / 100", "10", "182.0", "364.0", "50.0", "16", "50", "1,000"]
    assert changes.rows[0] == ["latency over all readings", "82 % higher", "82 % higher"]
    assert policy_sweep.figure(results, tmp_path / "f.png") == tmp_path / "f.png"


def test_no_twin_runs_only_where_the_run_owns_its_cloud() -> None:
    with pytest.raises(UnsupportedError, match="no-twin needs this run's own cloud"):
        SimConfig(policy="no-twin", cloud=False)
    with pytest.raises(UnsupportedError, match="the fleet's cloud keeps a twin"):
        FleetConfig(policy="no-twin")


def test_a_ppg_window_fills_the_characters_asked_for() -> None:
    first, again = TelemetryGenerator(seed=3), TelemetryGenerator(seed=3)
    window = first.ppg_window(1_002)
    assert len(window) == 1_000 and window == again.ppg_window(1_002)  # 4 characters a sample
    samples = base64.b64decode(window)
    counts = [int.from_bytes(samples[i : i + 3], "little") for i in range(0, len(samples), 3)]
    assert len(counts) == 250 and all(80_000 < c < 2**18 for c in counts)  # 18-bit ADC counts
    assert first.ppg_window(1_000) != window  # the waveform goes on


def test_readings_minutes_apart_stay_physiological() -> None:
    """The 100 MB point sends a reading every 200 s: the walk must not diverge."""
    slow = TelemetryGenerator(seed=0, deteriorate_after_s=0.0, deterioration_speed=100.0)
    readings = [Reading.from_dict(slow.reading(200.0)) for _ in range(20)]  # in range, or raises
    assert readings[-1].spo2 < 92 and readings[-1].hr > 110  # deteriorated, to its limits' side
