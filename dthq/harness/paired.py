"""Paired ratios: a ratio's numerator and denominator timed in the same interleaved
rounds, in one process, and summarised with an interval and a stability check.

Every call is calibrated to rounds of at least 2 ms, a margin over the 1 ms stability
floor (:func:`dthq.harness.rounds.calibrate`), and timed once per round in a shuffled order
(:func:`~dthq.harness.rounds.interleaved`), so round i of a numerator and round i of its
denominator were taken side by side: a burst of load lands on both, and their ratio
cancels it. The figure is the median of the per-round ratios; its interval is the
percentile bootstrap of that median, resampling whole pairs in contiguous blocks
(:mod:`dthq.harness.bootstrap`: a burst spans several rounds); its stability is
pyperf's checks on the means of blocks of rounds (:mod:`dthq.harness.stability`), the
shortest raw round being the shorter side's.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dthq.harness.bootstrap import MIN_INTERVAL_VALUES, Interval, median_interval, paired_ratios
from dthq.harness.results import Distribution, PairedRatio
from dthq.harness.rounds import MIN_ROUND_S, Call, calibrate, interleaved
from dthq.harness.stability import Stability, blocks, check

# The paired figures the timing-ratio targets read (reports/verdicts/targets.py).
SEAL_OPEN = "seal_open/aead"
HANDSHAKE_FLOOR = "handshake/floor"
HANDSHAKE_TLS = "handshake/tls"
RECORD_TLS = "record/tls"
MIN_PAIRED_ROUNDS = MIN_INTERVAL_VALUES  # fewer give no interval worth the name
# Calibrated to twice the 1 ms floor: a warm round runs faster than the calibration's,
# and every round must still last the floor (stability's shortest-raw-value check).
CALIBRATION_S = 2 * MIN_ROUND_S
CALIBRATIONS = 3


@dataclass(frozen=True)
class Pair:
    """One ratio to take: the figure's key and the names of its two calls."""

    figure: str
    numerator: str
    denominator: str


def assess(
    ratios: Sequence[float], shortest_raw_s: float | None, *, seed: int = 0
) -> tuple[Interval, Stability]:
    """A paired ratio's interval and stability from its per-round ratios, in round order."""
    return median_interval(ratios, seed=seed), check(blocks(ratios), shortest_raw_s)


def reassessed(p: PairedRatio) -> tuple[Interval, Stability]:
    """:func:`assess` again from the rounds a results file keeps: what the report judges,
    so an interval or a stability a file states cannot differ from its own rounds'."""
    sides = [(p.numerator_us.min, p.numerator_loops), (p.denominator_us.min, p.denominator_loops)]
    known = [m * 1e-6 * loops for m, loops in sides if m is not None]
    return assess(p.ratios, min(known) if len(known) == 2 else None)


def summarise(
    pair: Pair,
    seconds: Mapping[str, Sequence[float]],
    loops: Mapping[str, int],
    *,
    seed: int = 0,
) -> PairedRatio:
    """The paired ratio of ``pair`` from each call's seconds per call, round by round."""
    num, den = seconds[pair.numerator], seconds[pair.denominator]
    if len(num) < MIN_PAIRED_ROUNDS:
        raise ValueError(
            f"{pair.figure}: {len(num)} rounds, a paired ratio needs at least {MIN_PAIRED_ROUNDS}"
        )
    ratios = paired_ratios(num, den)
    shortest = min(min(num) * loops[pair.numerator], min(den) * loops[pair.denominator])
    interval, stability = assess(ratios, shortest, seed=seed)
    return PairedRatio(
        figure=pair.figure,
        numerator=pair.numerator,
        denominator=pair.denominator,
        numerator_us=Distribution.from_samples(num, 1e6),
        denominator_us=Distribution.from_samples(den, 1e6),
        numerator_loops=loops[pair.numerator],
        denominator_loops=loops[pair.denominator],
        ratios=tuple(ratios),
        median=statistics.median(ratios),
        low=interval.low,
        high=interval.high,
        confidence=interval.confidence,
        resamples=interval.resamples,
        cv=stability.cv,
        warnings=stability.warnings,
    )


def measure(
    calls: Mapping[str, Call],
    pairs: Sequence[Pair],
    rounds: int,
    *,
    seed: int = 0,
    min_round_s: float = CALIBRATION_S,
) -> tuple[PairedRatio, ...]:
    """Every call calibrated, then ``rounds`` interleaved rounds of all of them (a call
    two ratios share is timed once), and each pair's ratio summarised."""
    unknown = sorted({n for p in pairs for n in (p.numerator, p.denominator)} - calls.keys())
    if unknown:
        raise ValueError(f"no call named {', '.join(unknown)}")
    if rounds < MIN_PAIRED_ROUNDS:
        raise ValueError(f"rounds must be at least {MIN_PAIRED_ROUNDS}, got {rounds}")
    # The most loops of a few calibrations: a preempted calibration round looks long and
    # picks too few loops, and its rounds then fall under the 1 ms floor.
    loops = {
        name: max(calibrate(fn, min_round_s) for _ in range(CALIBRATIONS))
        for name, fn in calls.items()
    }
    seconds = interleaved(calls, rounds, loops, seed=seed)
    return tuple(summarise(p, seconds, loops, seed=seed) for p in pairs)
