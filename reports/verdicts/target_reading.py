"""What a performance target is judged on, and the rule that judges it: a
:class:`Reading` (the figure, its interval and the basis of that interval, and the
warnings of any figure it rests on) against a limit. One rule for every target, and for
any section that states a target's verdict beside its own figures (the store's)."""

from __future__ import annotations

from dataclasses import dataclass

from dthq.harness.bootstrap import MIN_INTERVAL_VALUES, Interval
from reports.verdicts.outcome import Outcome

EXACT = "exact"


@dataclass(frozen=True)
class Reading:
    """A target's figure. ``interval`` None: the figure is exact, or no honest interval
    exists (``basis`` says which, and why). ``warnings``: why a figure it rests on is
    unstable (a target judged on one is not judged). ``stable_worst``: for a target on
    the worst of several figures, the worst of its stable ones alone, worst in the
    target's own direction (the largest for an at-most target, the smallest for an
    at-least one): where that already misses, the unstable ones cannot save it."""

    value: float
    interval: Interval | None = None
    basis: str = EXACT
    warnings: tuple[str, ...] = ()
    stable_worst: float | None = None


WORDS = {
    Outcome.HOLDS: "met",
    Outcome.DOES_NOT_HOLD: "MISSED",
    Outcome.WITHIN_NOISE: "within noise",
    Outcome.UNSTABLE: "unstable",
    Outcome.NOT_MEASURED: "not measured",
}


def judge(reading: Reading | None, limit: float, at_least: bool = False) -> Outcome:
    """A reading against its limit, by the rule reports/verdicts/targets.py states."""
    if reading is None:
        return Outcome.NOT_MEASURED
    if reading.warnings:
        # a worst-of target whose stable figures already miss: the unstable cannot save it
        worst = reading.stable_worst
        if worst is not None and not (worst >= limit if at_least else worst <= limit):
            return Outcome.DOES_NOT_HOLD
        return Outcome.UNSTABLE
    if reading.interval is None:
        ok = reading.value >= limit if at_least else reading.value <= limit
        return Outcome.HOLDS if ok else Outcome.DOES_NOT_HOLD
    side = reading.interval.side_of(limit)
    if side == 0:
        return Outcome.WITHIN_NOISE
    return Outcome.HOLDS if (side > 0) == at_least else Outcome.DOES_NOT_HOLD


def too_few(value: float, count: int, what: str) -> Reading:
    """A figure over fewer than MIN_INTERVAL_VALUES ``what``: no interval, and too few
    to judge (unstable), rather than judged on the figure alone."""
    few = f"only {count} {what} (an interval needs {MIN_INTERVAL_VALUES})"
    return Reading(value, None, f"no interval: {few}", (few,))


def bootstrap_basis(interval: Interval, what: str) -> str:
    return f"{interval.confidence * 100:g} % bootstrap, {what}"
