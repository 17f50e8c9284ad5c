"""What each performance target is judged on: a :class:`Reading` (the figure, its
interval and the basis of that interval, and the warnings of any figure it rests on)
read from one run's results. reports/verdicts/targets.py holds the targets and the
rule that judges a reading against a limit."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from dthq.harness.bootstrap import MIN_INTERVAL_VALUES, Interval, worst_mean_interval
from dthq.harness.paired import reassessed
from dthq.harness.results import CascadeRun, HeldRate, Primitive, Results
from reports import held
from reports.anchors import CASCADE_PYTHON_SECONDS_PER_10K
from reports.primitives import deviation, fastest_deviation
from reports.store import growth_reading
from reports.verdicts.target_reading import Reading, bootstrap_basis, too_few


def distribution_warnings(figures: Iterable[object]) -> tuple[str, ...]:
    """The stability warnings the Distributions a target reads from other suites carry
    (none where a Distribution carries no such field): the one hook for them."""
    return tuple(w for d in figures for w in (getattr(d, "warnings", None) or ()))


def paired(figure: str) -> Callable[[Results], Reading | None]:
    """A figure of the paired suite: the median per-round ratio and its interval."""

    def read(r: Results) -> Reading | None:
        p = r.paired_ratio(figure)
        if p is None:
            return None
        # interval and stability from its rounds, not the file's say-so (the reader has
        # checked the median is its rounds')
        interval, stability = reassessed(p)
        basis = bootstrap_basis(interval, f"{len(p.ratios)} paired rounds")
        return Reading(p.median, interval, basis, stability.warnings)

    return read


NO_TIMEIT_INTERVAL = (
    "no interval: timeit's rounds are summarised, not kept; judged on the figure alone"
)


def _worst_of_primitives(
    r: Results, deviation: Callable[[Primitive], float | None]
) -> Reading | None:
    """The largest ``deviation`` over the primitives that have one (an at-most target),
    each unstable one named once (their warnings are in the stability section), and the
    largest of the stable ones kept apart."""
    found = [(p, d) for p in r.primitives if (d := deviation(p)) is not None]
    if not found:
        return None
    shaky = [p.name for p, _ in found if distribution_warnings([p.time_us])]
    warnings = (f"unstable primitive{'s' * (len(shaky) > 1)}: {', '.join(shaky)}",) if shaky else ()
    stable = [d for p, d in found if p.name not in shaky]
    worst = max(d for _, d in found)
    return Reading(worst, None, NO_TIMEIT_INTERVAL, warnings, max(stable, default=None))


def timeit_median(r: Results) -> Reading | None:
    return _worst_of_primitives(r, deviation)


def timeit_fastest(r: Results) -> Reading | None:
    return _worst_of_primitives(r, fastest_deviation)


def optimised(r: Results) -> list[CascadeRun]:
    return [c for c in r.cascade if c.schedule == "optimised"]


def cascade_f(r: Results) -> Reading | None:
    """The worst QBER's mean f; its interval bootstraps every QBER's instances."""
    runs = optimised(r)
    if not runs:
        return None
    worst = max(c.efficiency for c in runs)
    groups = [c.efficiencies for c in runs]
    # the instances a QBER's mean is over: those kept, else the count the run states
    fewest = min(c.runs if c.efficiencies is None else len(c.efficiencies) for c in runs)
    if fewest < MIN_INTERVAL_VALUES:
        return too_few(worst, fewest, "instances at a QBER")
    if any(g is None for g in groups):
        return Reading(worst, None, "no interval: this run kept only each QBER's mean f")
    interval = worst_mean_interval(groups)  # type: ignore[arg-type]
    n = sum(len(g) for g in groups)  # type: ignore[arg-type]
    return Reading(worst, interval, bootstrap_basis(interval, f"over the {n} instances"))


FASTEST_ANCHOR_MS = CASCADE_PYTHON_SECONDS_PER_10K[0] * 1e3


def cascade_time(r: Results) -> Reading | None:
    runs = optimised(r)
    if not runs:
        return None
    slowest = max(runs, key=lambda c: c.time_ms.median)
    return Reading(
        slowest.time_ms.median / FASTEST_ANCHOR_MS,
        None,
        "no interval: the anchor is one published figure and the instance's rounds are "
        "summarised, not kept; judged on the figure alone",
        distribution_warnings(c.time_ms for c in runs),
    )


def held_bracket(search: HeldRate) -> tuple[float, float] | None:
    """Where the true held rate lies: from the highest rate held to the lowest rate
    above it that failed (the search's precision above it where no probe says), with
    no upper bound when the search stopped at its ceiling still holding."""
    if search.held_per_s is None:
        return None
    low = search.held_per_s
    if search.capped:
        return low, math.inf
    failed = [p.offered_per_s for p in search.probes if not p.held and p.offered_per_s > low]
    return low, min(failed, default=low * (1 + search.precision))


def held_ratio(broker: str) -> Callable[[Results], Reading | None]:
    """Pipeline over pair; the interval is the searches' brackets' ratio: a bound, not
    a confidence interval (each search's probes decide where its true rate lies)."""

    def read(r: Results) -> Reading | None:
        pair, pipeline = held.pairs(r).get(broker, (None, None))
        got = held.ratio(pair, pipeline)
        if got is None or pair is None or pipeline is None:
            return None
        pair_b, pipe_b = held_bracket(pair), held_bracket(pipeline)
        if pair_b is None or pipe_b is None:
            return None
        interval = Interval(pipe_b[0] / pair_b[1], pipe_b[1] / pair_b[0], 1.0, 0)
        return Reading(got, interval, "bracket of the two searches' bisections")

    return read


def fhir_ratio(r: Results) -> Reading | None:
    found = max((c.ratio for c in r.fhir_cost if c.ratio is not None), default=None)
    if found is None:
        return None
    return Reading(
        found,
        None,
        "no interval: one run with and one without, each a CPU total over its readings; "
        "judged on the figure alone",
    )


def store_growth(r: Results) -> Reading | None:
    return growth_reading(r.store)
