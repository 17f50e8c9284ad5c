"""Bootstrap confidence intervals (percentile method), seeded so a report is reproducible.

A ratio of two figures measured in paired interleaved rounds is summarised by the
median of its per-round ratios: drift between rounds cancels within each pair, and the
interval is that median's, resampling whole pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    confidence: float = CONFIDENCE
    resamples: int = RESAMPLES

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise ValueError(f"an interval's low ({self.low}) is above its high ({self.high})")

    def side_of(self, limit: float) -> int:
        """-1 wholly below ``limit``, +1 wholly above, 0 where it holds it (within noise)."""
        return -1 if self.high < limit else 1 if self.low > limit else 0


def median_interval(
    values: Sequence[float],
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """The percentile-bootstrap interval of the median of ``values``."""
    data = np.asarray(values, dtype=float)
    if data.size < 2:
        raise ValueError("an interval needs at least two values")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, data.size, size=(resamples, data.size))
    medians = np.median(data[picks], axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(medians, [tail, 1 - tail])
    return Interval(float(low), float(high), confidence, resamples)


def paired_ratios(numerator: Sequence[float], denominator: Sequence[float]) -> list[float]:
    """Round ``i``'s numerator over round ``i``'s denominator."""
    if len(numerator) != len(denominator):
        raise ValueError(f"{len(numerator)} numerators for {len(denominator)} denominators")
    if any(d <= 0 for d in denominator):
        raise ValueError("a denominator is not positive")
    return [n / d for n, d in zip(numerator, denominator, strict=True)]


def worst_mean_interval(
    groups: Sequence[Sequence[float]],
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """The percentile-bootstrap interval of the largest of several groups' means (the
    worst of independent figures), each group resampled on its own."""
    if not groups or any(len(g) < 2 for g in groups):
        raise ValueError("an interval needs at least two values in every group")
    rng = np.random.default_rng(seed)
    worst = np.full(resamples, -np.inf)
    for group in groups:
        data = np.asarray(group, dtype=float)
        means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
        worst = np.maximum(worst, means)
    tail = (1 - confidence) / 2
    low, high = np.quantile(worst, [tail, 1 - tail])
    return Interval(float(low), float(high), confidence, resamples)
