"""How far a figure can be trusted: its coefficient of variation and pyperf-style warnings.

The checks are those of ``pyperf check``, applied to a figure's *values*: each value,
like pyperf's, the mean of many calls (a block of contiguous rounds), not a single short
round. A mean, not a median: a preemption inside a block shows in its value, as it does
in pyperf's, instead of being voted away.

- the standard deviation is 10 % of the mean or more;
- the maximum is 50 % or more above the mean, or the minimum 50 % or more below it;
- the shortest raw value (one timed round, all its calls) is under 1 ms, where the
  timer's resolution and a single interrupt are a visible part of it.

A figure with a warning is *unstable*: the report flags it, and a target judged on it
says so instead of met or missed.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

CV_LIMIT = 0.10
EXTREME = 0.50
SHORTEST_RAW_S = 1e-3
MIN_VALUES = 3  # fewer values than this cannot show a spread


@dataclass(frozen=True)
class Stability:
    cv: float | None  # stdev / mean of the values; None with fewer than MIN_VALUES
    warnings: tuple[str, ...] = ()

    @property
    def stable(self) -> bool:
        return not self.warnings


def check(values: Sequence[float], shortest_raw_s: float | None = None) -> Stability:
    """pyperf's checks on ``values`` (any unit, all > 0) and, when known, on the
    shortest raw round in seconds."""
    warnings = []
    if shortest_raw_s is not None and shortest_raw_s < SHORTEST_RAW_S:
        warnings.append(
            f"the shortest raw value is only {shortest_raw_s * 1e3:.3g} ms "
            f"(under {SHORTEST_RAW_S * 1e3:g} ms)"
        )
    if len(values) < MIN_VALUES:
        return Stability(None, (*warnings, f"only {len(values)} values: no spread to judge"))
    mean = statistics.fmean(values)
    if mean <= 0:
        return Stability(None, (*warnings, "the mean is not positive"))
    cv = statistics.stdev(values) / mean
    if cv >= CV_LIMIT:
        warnings.append(f"the standard deviation is {cv:.0%} of the mean ({CV_LIMIT:.0%} or more)")
    if max(values) >= mean * (1 + EXTREME):
        warnings.append(f"the maximum is {max(values) / mean - 1:.0%} above the mean")
    if min(values) <= mean * (1 - EXTREME):
        warnings.append(f"the minimum is {1 - min(values) / mean:.0%} below the mean")
    return Stability(cv, tuple(warnings))


def blocks(samples: Sequence[float], count: int = 10) -> list[float]:
    """The means of ``count`` contiguous blocks of ``samples`` (fewer when there are not
    three samples a block): values for :func:`check` out of one run's many short rounds."""
    count = max(1, min(count, len(samples) // 3))
    size, extra = divmod(len(samples), count)
    out, start = [], 0
    for i in range(count):
        end = start + size + (i < extra)
        out.append(statistics.fmean(samples[start:end]))
        start = end
    return out
