"""Change points of one figure over per-commit results (asv's step detection is the
anchor; the search is ruptures' PELT).

Method. The figure's logarithm is taken (so a step is a ratio, the same for a count of
millions and a time ratio near 1), commits lacking the figure are left out, and the
values are scaled by the series' own noise: 1.4826 x the median absolute deviation of
successive differences, over sqrt(2). Successive differences cancel a level shift
everywhere but at the shift itself, so one step barely moves the estimate. PELT then finds
the segmentation minimising the L1 cost (distance to each segment's median, robust to a
stray slow run, as asv's is) plus a penalty of 2 ln(n S) per change point for S series
searched together (see Limits), in units of that noise; every segment holds at least
MIN_SEGMENT measured commits while it searches. Each
change point's position is then refined against the same cost between its neighbours,
with MIN_SIDE commits on either side: a shift two commits before the end is placed at its
commit, not one early as the minimum segment would force it. Each change point is
reported with the commit it starts at, the last measured commit before it, its size
(median after over median before, minus one, over the segments either side) and each
segment's own noise (robust standard deviation of its log values, about a relative one).

Limits.
- A series of fewer than 2 x MIN_SEGMENT measured commits has no change point, and a
  shift in the last commit alone is not one (it may be a stray run): it is found once
  another commit follows it.
- Instruction counts that do not move at all have a noise estimate of zero; the estimate
  is floored at NOISE_FLOOR (0.1 %), so a constant count that steps once is found and
  jitter below the floor is not.
- The noise estimate from few commits is itself noisy. For one series alone (S = 1),
  over 500 seeds of Gaussian 1 % noise, a false change point shows in 9 % of 6-commit
  series, 7.6 % of 10, 2.6 % of 20,
  1.6 % of 30 and 0.6 % of 60. A 3 % step at the middle of 30 commits is placed exactly
  81 % of the time, within one commit 94 %, and missed 0.4 %.
- Many series searched at once multiply the false change points: at 1.6 % a series,
  a history of 174 figures would show about three in pure noise. So the penalty grows
  with the log of the number of places searched, commits times series (2 ln(n S)
  instead of 2 ln n, as a BIC penalty grows with the places a change could be). Over
  3,000 seeded 30-commit series of 1 % noise, with S = 174, it raised no false change
  point (Gaussian noise, and Student-t noise of 3 degrees of freedom): a rate under
  0.1 % a series (95 % bound), so under about 16 % for any over all 174; the price is
  power: a 3 % step at the middle is found 76 % of the time (100 % with S = 1), a 2 %
  one 19 % (85 %). A figure that matters is better served by the gate, which judges
  one change with paired statistics, than by history.
- A slow drift is cut into steps; a value at or below zero has no logarithm, and a series
  holding one gets no change points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import ruptures

MIN_SEGMENT = 3  # measured commits on each side of a change point, while searching
MIN_SIDE = 2  # and once its position is refined
PENALTY = 2.0  # per change point, times ln(n x series), in units of the series' noise
NOISE_FLOOR = 1e-3  # relative noise never below 0.1 % (deterministic instruction counts)
MAD_TO_SD = 1.4826  # the MAD of a normal sample times this is its standard deviation


@dataclass(frozen=True)
class ChangePoint:
    index: int  # position in the commit list of the first commit after the change
    commit: str  # that commit's label
    before: str  # the last measured commit before it
    size: float  # median after / median before - 1, over the segments either side
    segments: tuple[int, int]  # measured commits in the segment before and after
    noise: tuple[float, float]  # each segment's robust sd of log values (relative noise)


def noise(logs: Sequence[float]) -> float:
    """Robust noise of log values from their successive differences (zero if fewer than 2)."""
    if len(logs) < 2:
        return 0.0
    d = np.diff(np.asarray(logs, dtype=float))
    return float(MAD_TO_SD * np.median(np.abs(d - np.median(d))) / math.sqrt(2))


def _spread(logs: np.ndarray) -> float:
    """One segment's robust standard deviation (its MAD, scaled)."""
    return float(MAD_TO_SD * np.median(np.abs(logs - np.median(logs))))


def _cost(z: np.ndarray) -> float:
    return float(np.abs(z - np.median(z)).sum()) if len(z) else 0.0


def _refined(z: np.ndarray, ends: list[int]) -> list[int]:
    """Segment ends (the last is len(z)), each change moved to where the L1 cost of its two
    neighbouring segments is least, MIN_SIDE commits either side (ties keep PELT's)."""
    ends = list(ends)
    for k in range(len(ends) - 1):
        low, high = ends[k - 1] if k else 0, ends[k + 1]
        ends[k] = min(
            range(low + MIN_SIDE, high - MIN_SIDE + 1),
            key=lambda t: (_cost(z[low:t]) + _cost(z[t:high]), abs(t - ends[k])),
        )
    return ends


def searchable(values: Sequence[float | None]) -> bool:
    """Whether a series can hold a change point: 2 x MIN_SEGMENT measured commits, each
    positive (only these count among the series searched together)."""
    present = [v for v in values if v is not None]
    return len(present) >= 2 * MIN_SEGMENT and all(v > 0 for v in present)


def change_points(
    values: Sequence[float | None], labels: Sequence[str], *, series: int = 1
) -> list[ChangePoint]:
    """Change points of one series, one value per commit (None where a commit lacks it),
    out of ``series`` searched together (the penalty grows with their number)."""
    if len(values) != len(labels):
        raise ValueError(f"{len(values)} values for {len(labels)} commits")
    if series < 1:
        raise ValueError(f"series must be at least 1, got {series}")
    if not searchable(values):
        return []
    where = [i for i, v in enumerate(values) if v is not None]
    present = [values[i] for i in where]
    raw = np.asarray(present, dtype=float)
    logs = np.log(raw)
    sigma = max(noise(logs), NOISE_FLOOR)
    scaled = ((logs - np.median(logs)) / sigma).reshape(-1, 1)
    search = ruptures.Pelt(model="l1", min_size=MIN_SEGMENT, jump=1).fit(scaled)
    ends = _refined(scaled[:, 0], search.predict(pen=PENALTY * math.log(len(logs) * series)))
    starts = [0, *ends[:-1]]
    out = []
    for k in range(1, len(ends)):
        before, after = slice(starts[k - 1], ends[k - 1]), slice(starts[k], ends[k])
        first = where[starts[k]]
        out.append(
            ChangePoint(
                index=first,
                commit=labels[first],
                before=labels[where[starts[k] - 1]],
                size=float(np.median(raw[after]) / np.median(raw[before]) - 1),
                segments=(ends[k - 1] - starts[k - 1], ends[k] - starts[k]),
                noise=(_spread(logs[before]), _spread(logs[after])),
            )
        )
    return out
