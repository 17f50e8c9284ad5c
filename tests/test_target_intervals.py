"""Targets with a margin: met or MISSED only when the figure's interval lies wholly on
one side of the limit, "within noise" when it holds the limit, "unstable" whenever a
figure it rests on is; and the paired suite that gives the timing ratios their
intervals, timing exactly the calls the separate benchmarks time."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from test_reports import results

import dthq
from bench import calls
from dthq.harness import paired, primitive_set
from dthq.harness.bootstrap import Interval, worst_mean_interval
from dthq.harness.paired import Pair, measure, summarise
from dthq.harness.results_json import from_dict, to_dict
from reports.verdicts import targets
from reports.verdicts.outcome import Outcome
from reports.verdicts.target_reading import Reading, judge

LIMIT = 3.0
UNDER, OVER = math.nextafter(LIMIT, 0), math.nextafter(LIMIT, math.inf)


def _within(low: float, high: float, *, warnings: tuple[str, ...] = ()) -> Reading:
    return Reading((low + high) / 2, Interval(low, high), "95 % bootstrap", warnings)


@pytest.mark.parametrize(
    ("low", "high", "at_most", "at_least"),
    [
        (2.0, UNDER, Outcome.HOLDS, Outcome.DOES_NOT_HOLD),  # high just under the limit
        (2.0, LIMIT, Outcome.WITHIN_NOISE, Outcome.WITHIN_NOISE),  # high exactly at it
        (2.0, 4.0, Outcome.WITHIN_NOISE, Outcome.WITHIN_NOISE),  # holding it
        (LIMIT, 4.0, Outcome.WITHIN_NOISE, Outcome.WITHIN_NOISE),  # low exactly at it
        (OVER, 4.0, Outcome.DOES_NOT_HOLD, Outcome.HOLDS),  # low just over it
    ],
)
def test_an_interval_decides_only_when_wholly_on_one_side(
    low: float, high: float, at_most: Outcome, at_least: Outcome
) -> None:
    assert judge(_within(low, high), LIMIT) is at_most
    assert judge(_within(low, high), LIMIT, at_least=True) is at_least


def test_unstable_wins_over_met_and_missed() -> None:
    warned = ("the standard deviation is 23% of the mean (10% or more)",)
    assert judge(_within(1.0, 2.0, warnings=warned), LIMIT) is Outcome.UNSTABLE
    assert judge(_within(4.0, 5.0, warnings=warned), LIMIT) is Outcome.UNSTABLE
    assert judge(None, LIMIT) is Outcome.NOT_MEASURED


@pytest.mark.parametrize(
    ("value", "at_most", "at_least"),
    [(LIMIT, Outcome.HOLDS, Outcome.HOLDS), (OVER, Outcome.DOES_NOT_HOLD, Outcome.HOLDS),
     (UNDER, Outcome.HOLDS, Outcome.DOES_NOT_HOLD)],
)  # fmt: skip
def test_a_figure_without_an_interval_is_judged_on_itself_the_limit_within(
    value: float, at_most: Outcome, at_least: Outcome
) -> None:
    assert judge(Reading(value), LIMIT) is at_most
    assert judge(Reading(value), LIMIT, at_least=True) is at_least


def test_the_targets_table_shows_each_interval_and_verdict() -> None:
    found = {t.name: t for t in targets.evaluate(results())}
    seal = found["DTHQ seal+open of one small reading vs bare AEAD encrypt+decrypt"]
    assert (seal.measured_text, seal.interval_text, seal.verdict) == (
        "2.79x", "[2.78, 2.80]x, 95 % bootstrap, 60 paired rounds", "met"
    )  # fmt: skip
    floor = found["DTHQ handshake (ML-KEM-768, psk) vs the sum of its primitives"]
    assert (floor.interval_text, floor.verdict) == (
        "[1.30, 1.31]x, 95 % bootstrap, 60 paired rounds", "within noise"
    )  # fmt: skip
    tls = found["DTHQ handshake (ML-KEM-768, psk) vs TLS 1.3 X25519MLKEM768 in-memory handshake"]
    assert tls.verdict_text == "unstable (the standard deviation is 32% of the mean (10% or more))"
    assert found["quick profile wall time"].interval_text == "exact"
    cascade = found["Cascade reconciliation efficiency f at 1-5 % QBER (worst mean)"]
    assert cascade.interval_text == "[1.06, 1.08], 95 % bootstrap, over the 10 instances"
    assert cascade.verdict == "met"
    rows = targets.section(results()).tables[0].rows
    assert rows[0][:5] == [seal.name, "2.79x", seal.interval_text, "3x", "met"]


def test_without_the_paired_suite_the_timing_ratios_are_not_measured() -> None:
    found = targets.evaluate(dataclasses.replace(results(), paired=()))
    assert [t.verdict for t in found[:4]] == ["not measured"] * 4
    assert found[0].interval_text == "-"


def test_a_paired_ratio_summarises_round_by_round() -> None:
    den = [1e-3, 2e-3, 1e-3] * 3 + [1e-3]
    each = [3.0, 3.0, 3.3, 2.7, 3.0, 3.0, 3.0, 3.3, 2.7, 3.0]
    num = [d * r for d, r in zip(den, each, strict=True)]
    seconds, pair = {"n": num, "d": den}, Pair("f", "n", "d")
    got = summarise(pair, seconds, {"n": 1, "d": 2})
    assert got.ratios == pytest.approx(tuple(each))
    assert got.median == pytest.approx(3.0)
    assert (got.low, got.high) == (3.0, 3.0)  # six of ten at 3.0: nearly every resample
    assert (got.confidence, got.resamples) == (0.95, 2000)
    assert (got.numerator_loops, got.denominator_loops) == (1, 2)
    assert got.denominator_us.median == pytest.approx(1000.0)
    assert got.cv == pytest.approx(0.0) and got.warnings == ()  # 3 blocks' means, all 3.0
    # The shortest raw round: 1 ms (1 loop of 1 ms) is the floor itself; 0.5 ms is under it.
    assert summarise(pair, seconds, {"n": 1, "d": 1}).warnings == ()
    half = {"n": num, "d": [d / 2 for d in den]}
    assert summarise(pair, half, {"n": 1, "d": 1}).warnings == (
        "the shortest raw value is only 0.5 ms (under 1 ms)",
    )
    with pytest.raises(ValueError, match="9 rounds, a paired ratio needs at least 10"):
        summarise(pair, {"n": [1e-3] * 9, "d": [1e-3] * 9}, {"n": 1, "d": 1})


def test_measure_times_every_call_in_the_same_rounds() -> None:
    found = measure({"a": lambda: sum(range(50)), "b": lambda: None},
                    [Pair("a/b", "a", "b")], rounds=10, min_round_s=1e-4)  # fmt: skip
    (point,) = found
    assert len(point.ratios) == 10 and point.low <= point.median <= point.high
    with pytest.raises(ValueError, match="no call named c"):
        measure({"a": lambda: None}, [Pair("x", "a", "c")], rounds=3)
    with pytest.raises(ValueError, match="rounds must be at least 10, got 9"):
        measure({"a": lambda: None}, [Pair("x", "a", "a")], rounds=9)


def test_the_worst_mean_interval_is_of_the_largest_mean() -> None:
    got = worst_mean_interval([[1.0] * 10, [2.0] * 10])
    assert (got.low, got.high) == (2.0, 2.0)
    with pytest.raises(ValueError, match="at least 10 values in every group"):
        worst_mean_interval([[1.0] * 10, [2.0] * 9])


def test_a_cascade_of_too_few_instances_is_too_few_to_judge() -> None:
    r = results()
    runs = tuple(dataclasses.replace(c, efficiencies=(1.05,) * 9, efficiency=1.05,
                                     efficiency_max=1.05, runs=9) for c in r.cascade)  # fmt: skip
    found = {t.name: t for t in targets.evaluate(dataclasses.replace(r, cascade=runs))}
    few = "only 9 instances at a QBER (an interval needs 10)"
    target = found["Cascade reconciliation efficiency f at 1-5 % QBER (worst mean)"]
    assert (target.interval_text, target.verdict_text) == (
        f"no interval: {few}",
        f"unstable ({few})",
    )


def test_the_paired_calls_are_the_benchmarks_calls() -> None:
    """Same builders, same bytes out: the paired suite times what the figures time."""
    import bench.test_paired as suite
    import bench.test_table3 as table3
    import bench.test_table4 as table4

    assert table4.table4_al is calls.table4_al and table3.record_path is calls.record_path
    assert table3.handshake is calls.handshake
    small_aead = primitive_set.by_name()["aead/AES-256-GCM/cryptography/small"].build()
    assert small_aead is not None and small_aead() == calls.PAYLOADS["small"]
    dthq.load_plugins()  # the TLS baselines are entry points, as the bench loads them
    found = suite.paired_calls()
    assert found[suite.AL]() == table4._payload(suite.AL_CELL) == calls.PAYLOADS["small"]
    assert found[suite.AEAD]() == primitive_set.payloads()["small"]
    assert found[suite.RECORD]() == found[suite.TLS_RECORD]() == table3.READING
    assert found[suite.HANDSHAKE]().initiator is not None
    assert found[suite.FLOOR]() is None
    assert {p.figure for p in suite.PAIRS} == {
        paired.SEAL_OPEN, paired.HANDSHAKE_FLOOR, paired.HANDSHAKE_TLS, paired.RECORD_TLS
    }  # fmt: skip


def test_the_paired_section_round_trips_through_json() -> None:
    r = results()
    assert len(r.paired) == 4 and r.paired_ratio(paired.SEAL_OPEN).median == 2.79  # type: ignore[union-attr]
    assert from_dict(to_dict(r)) == r


def test_the_timeit_target_names_its_unstable_primitives_once_each() -> None:
    """Unstable primitives make the timeit targets unstable, each named once (their
    warnings are in the stability section), not every warning of every one."""
    from dthq.harness.stability import Stability

    r = results()
    shaky = ("the standard deviation is 25% of the mean (10% or more)", "the maximum is 60% above")
    first, second, *rest = r.primitives
    unstable = [
        dataclasses.replace(p, time_us=p.time_us.assessed(Stability(0.25, shaky)))
        for p in (first, second)
    ]
    r = dataclasses.replace(r, primitives=(*unstable, *rest))
    found = {t.name: t for t in targets.evaluate(r)}
    timeit = found["largest harness-vs-timeit deviation of a primitive median"]
    assert timeit.outcome is Outcome.UNSTABLE
    assert timeit.verdict_text == f"unstable (unstable primitives: {first.name}, {second.name})"


def _timeit_target(deviations: dict[str, float], shaky: set[str]) -> targets.Target:
    """The timeit-median target over primitives off timeit by ``deviations``, the
    ``shaky`` ones unstable."""
    from dthq.harness.stability import Stability

    base = results().primitives[0]
    made = []
    for name, off in deviations.items():
        p = dataclasses.replace(base, name=name, timeit_median_us=base.time_us.median / (1 + off))
        if name in shaky:
            p = dataclasses.replace(p, time_us=p.time_us.assessed(Stability(0.3, ("noisy",))))
        made.append(p)
    r = dataclasses.replace(results(), primitives=tuple(made))
    return {t.name: t for t in targets.evaluate(r)}[
        "largest harness-vs-timeit deviation of a primitive median"
    ]


@pytest.mark.parametrize(
    ("deviations", "shaky", "verdict"),
    [
        # a stable primitive past 10 %: missed, whatever the unstable one says
        (
            {"a": 0.15, "b": 0.01},
            {"b"},
            "MISSED on its stable figures alone (0.15; unstable primitive: b)",
        ),
        (
            {"a": 0.1001, "b": 0.5},
            {"b"},
            "MISSED on its stable figures alone (0.1; unstable primitive: b)",
        ),
        # the stable ones within (just under 10 %): the unstable one decides nothing
        ({"a": 0.0999, "b": 0.5}, {"b"}, "unstable (unstable primitive: b)"),
        ({"a": 0.05, "b": 0.01}, {"a", "b"}, "unstable (unstable primitives: a, b)"),
        ({"a": 0.05, "b": 0.01}, set(), "met"),
    ],
)
def test_a_stable_primitive_that_misses_decides_the_timeit_target(
    deviations: dict[str, float], shaky: set[str], verdict: str
) -> None:
    assert _timeit_target(deviations, shaky).verdict_text == verdict


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"median": 10.0}, r"paired\[0\] \(seal_open/aead\): median 10 is not within \[low"),
        ({"ratios": [2.79] * 9}, r"paired\[0\] \(seal_open/aead\)\.ratios: expected 10 or more"),
        ({"ratios": [2.79] * 9 + [-1.0]}, r"\.ratios: expected 10 or more ratios, each positive"),
        ({"ratios": [1.0] * 10}, r"the median of its ratios is not within \[low, high\]"),
        ({"confidence": 7}, r"expected 0 < confidence < 1 and resamples >= 1"),
        ({"numerator_loops": 0}, r"expected loops >= 1 on each side"),
    ],
)
def test_a_crafted_paired_ratio_is_refused_by_name(change: dict, message: str) -> None:
    from dthq.harness.results_json import ResultsError

    data = to_dict(results())
    first = data["paired"][0]
    assert first["figure"] == paired.SEAL_OPEN
    first.update(change)
    with pytest.raises(ResultsError, match=message):
        from_dict(data)


def test_a_figure_twice_in_the_paired_section_is_refused() -> None:
    from dthq.harness.results_json import ResultsError

    data = to_dict(results())
    data["paired"].append(data["paired"][0])
    with pytest.raises(ResultsError, match=r"paired\[4\]: 'seal_open/aead' again"):
        from_dict(data)


@pytest.mark.parametrize(
    ("section", "field", "message"),
    [
        ("store", "round_ms", r"store\[0\]\.round_ms: expected every round's time positive"),
        (
            "cascade",
            "efficiencies",
            r"cascade\[0\]\.efficiencies: expected one or more instances' f",
        ),
    ],
)
def test_kept_samples_must_be_positive(section: str, field: str, message: str) -> None:
    from dthq.harness.results import Distribution, StoreCostPoint
    from dthq.harness.results_json import ResultsError

    put = Distribution.from_samples([1e-3, 2e-3], 1e3)
    data = to_dict(dataclasses.replace(results(), store=(StoreCostPoint(0, 20, 20, put, put),)))
    assert data[section], f"the fake run has no {section}"
    data[section][0][field] = [1.0, 0.0]
    with pytest.raises(ResultsError, match=message):
        from_dict(data)
    data[section][0][field] = [1.0, 1e-101]  # past the floor a ratio of two stays finite at
    with pytest.raises(ResultsError, match=message):
        from_dict(data)
    data[section][0][field] = [1.0, 1e-100]  # at it
    if section == "cascade":  # its mean, largest and count must be its instances'
        data[section][0].update(efficiency=(1.0 + 1e-100) / 2, efficiency_max=1.0, runs=2)
    from_dict(data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"efficiency": 1.2}, "efficiency 1.2, efficiency_max 1.1 and runs 2 are not the mean"),
        ({"efficiency_max": 1.0}, "are not the mean, the largest and the count of its 2"),
        ({"runs": 3}, "runs 3 are not the mean, the largest and the count of its 2 instances"),
    ],
)
def test_a_cascade_mean_must_be_its_instances(change: dict[str, float], message: str) -> None:
    from dthq.harness.results_json import ResultsError

    data = to_dict(results())
    data["cascade"][0].update(efficiencies=[1.0, 1.1], efficiency=1.05, efficiency_max=1.1, runs=2)
    from_dict(data)  # consistent: read
    data["cascade"][0].update(change)
    with pytest.raises(ResultsError, match=rf"cascade\[0\]: .*{message}"):
        from_dict(data)


def test_a_cascade_run_without_instances_and_a_zero_put_are_refused() -> None:
    from dthq.harness.results import Distribution, StoreCostPoint
    from dthq.harness.results_json import ResultsError

    data = to_dict(results())
    data["cascade"][0].update(efficiencies=[], efficiency=1.05, efficiency_max=1.1, runs=0)
    with pytest.raises(ResultsError, match=r"cascade\[0\]\.efficiencies: expected one or more"):
        from_dict(data)
    zero = Distribution.from_samples([0.0, 0.0], 1e3)
    data = to_dict(dataclasses.replace(results(), store=(StoreCostPoint(0, 20, 20, zero, zero),)))
    with pytest.raises(ResultsError, match=r"store\[0\]\.put_ms\.median: expected a positive"):
        from_dict(data)


def test_store_sizes_timed_together_keep_as_many_rounds() -> None:
    from dthq.harness.results import Distribution, StoreCostPoint
    from dthq.harness.results_json import ResultsError

    put = Distribution.from_samples([1e-3, 2e-3], 1e3)
    sizes = (StoreCostPoint(0, 20, 20, put, put, (1.0,) * 10),
             StoreCostPoint(1000, 20, 20, put, put, (1.1,) * 10))  # fmt: skip
    from_dict(to_dict(dataclasses.replace(results(), store=sizes)))
    uneven = (sizes[0], dataclasses.replace(sizes[1], round_ms=(1.1,) * 9))
    with pytest.raises(ResultsError, match="store: the sizes kept different numbers of rounds"):
        from_dict(to_dict(dataclasses.replace(results(), store=uneven)))


def test_the_report_judges_a_paired_ratio_on_its_rounds_not_on_what_the_file_says() -> None:
    """A file that states a wider interval and no warnings than its rounds give: the
    report shows and judges what the rounds give, in targets.md and stability.md."""
    from reports import stability

    r = results()
    tls = r.paired_ratio(paired.HANDSHAKE_TLS)
    seal = r.paired_ratio(paired.SEAL_OPEN)
    assert tls is not None and seal is not None and tls.warnings  # the fixture's unstable one
    claimed = (dataclasses.replace(seal, low=0.1, high=100.0),
               dataclasses.replace(tls, warnings=(), cv=0.0))  # fmt: skip
    others = tuple(p for p in r.paired if p.figure not in (seal.figure, tls.figure))
    crafted = from_dict(to_dict(dataclasses.replace(r, paired=(*claimed, *others))))
    found = {t.name: t for t in targets.evaluate(crafted)}
    shown = found["DTHQ seal+open of one small reading vs bare AEAD encrypt+decrypt"]
    assert shown.interval_text.startswith("[2.78, 2.80]x") and shown.verdict == "met"
    hs = found["DTHQ handshake (ML-KEM-768, psk) vs TLS 1.3 X25519MLKEM768 in-memory handshake"]
    assert hs.verdict == "unstable"
    assert stability.unstable(crafted)["paired handshake/tls"] == tls.warnings


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"median": 2.7901}, r"median 2\.7901 is not the median of its ratios"),
        ({"numerator_us": None}, r"expected each side's fastest round"),
    ],
)
def test_a_paired_ratio_states_its_own_median_and_fastest_rounds(
    change: dict[str, object], message: str
) -> None:
    from dthq.harness.results_json import ResultsError

    data = to_dict(results())
    first = data["paired"][0]
    if change.get("numerator_us", 0) is None:  # a side without its fastest round
        first["numerator_us"].pop("min")
    else:
        first.update(change)
    first["low"], first["high"] = 0.1, 100.0  # the interval holds any median here
    with pytest.raises(ResultsError, match=message):
        from_dict(data)


def test_store_rounds_kept_by_some_sizes_only_or_none_or_a_size_twice_are_refused() -> None:
    from dthq.harness.results import Distribution, StoreCostPoint
    from dthq.harness.results_json import ResultsError

    put = Distribution.from_samples([1e-3, 2e-3], 1e3)
    kept = StoreCostPoint(0, 20, 20, put, put, (1.0,) * 10)
    unkept = StoreCostPoint(1000, 20, 20, put, put)
    for store, message in (
        ((kept, unkept), "store: the sizes kept different numbers of rounds"),
        ((dataclasses.replace(kept, round_ms=()),), r"store\[0\]\.round_ms: expected every"),
        ((kept, kept), r"store\[1\]: '0' again"),
    ):
        with pytest.raises(ResultsError, match=message):
            from_dict(to_dict(dataclasses.replace(results(), store=store)))


def test_cascade_means_of_too_few_instances_read_unstable_even_unkept() -> None:
    r = results()
    runs = tuple(dataclasses.replace(c, efficiencies=None, runs=3) for c in r.cascade)
    found = {t.name: t for t in targets.evaluate(dataclasses.replace(r, cascade=runs))}
    target = found["Cascade reconciliation efficiency f at 1-5 % QBER (worst mean)"]
    assert target.verdict_text == "unstable (only 3 instances at a QBER (an interval needs 10))"


def test_a_raw_benchmark_json_gets_the_checks_a_results_file_gets() -> None:
    """``dthq report`` also reads pytest-benchmark JSON: a crafted paired point there
    is refused as it is in results.json, not judged."""
    from test_reports import fake_benchmark_json

    from bench.ingest import results_from_bytes
    from dthq.harness.results_json import ResultsError

    raw = fake_benchmark_json()
    paired_bench = next(b for b in raw["benchmarks"] if b["extra_info"]["suite"] == "paired")
    paired_bench["extra_info"]["points"][0]["median"] = 2.7901
    with pytest.raises(ResultsError, match=r"raw\.json: paired\[0\] .*not the median of its"):
        results_from_bytes(json.dumps(raw).encode(), "raw.json")
