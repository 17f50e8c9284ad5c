"""The gate's statistics: a paired one-sided test for "slower", Bonferroni over the
figures compared, the fewest pairs that can reach significance, and the two checks the
gate's own benchmark runs on itself (Clopper-Pearson bounds, a KS test of A/A p-values).

As tlsfuzzer's timing analysis does: paired and non-parametric (timings are skewed and
contention only ever adds time), one test per figure, the family-wise error rate held
by Bonferroni.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats

ALPHA = 0.01  # the family-wise false-alarm rate the time gate aims at, per gate run


def log_ratios(base: Sequence[float], head: Sequence[float]) -> list[float]:
    """log(head / base) of each interleaved pair: >0 where head was slower."""
    if len(base) != len(head):
        raise ValueError(f"{len(base)} base samples against {len(head)} head samples: unpaired")
    if min(base, default=1) <= 0 or min(head, default=1) <= 0:
        raise ValueError("a sample is not positive: no ratio to take")
    return [math.log(h / b) for b, h in zip(base, head, strict=True)]


def p_slower(diffs: Sequence[float]) -> float:
    """One-sided Wilcoxon signed-rank p-value of "head is slower" (the differences'
    distribution shifted above 0). Exact for up to 50 pairs without ties (scipy's auto);
    no difference at all is no evidence: 1."""
    if not any(diffs):
        return 1.0
    return float(stats.wilcoxon(diffs, alternative="greater", zero_method="wilcox").pvalue)


def smallest_p(pairs: int) -> float:
    """The smallest one-sided exact signed-rank p-value ``pairs`` pairs can give: every
    pair slower, 2**-pairs."""
    return 2.0**-pairs


def min_pairs(figures: int, alpha: float = ALPHA) -> int:
    """Fewest pairs whose smallest p-value can pass Bonferroni's alpha / figures: with
    fewer the test cannot call anything slower, so the gate cannot judge."""
    if figures < 1 or not 0 < alpha < 1:
        raise ValueError(f"need at least one figure and 0 < alpha < 1 (got {figures}, {alpha})")
    return math.ceil(math.log2(figures / alpha) - 1e-12)


def bonferroni(alpha: float, figures: int) -> float:
    """Each figure's significance level, so the chance of any false alarm over
    ``figures`` tests stays at most ``alpha``."""
    return alpha / max(figures, 1)


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact two-sided interval for a rate of k in n; each bound at (1 - confidence) / 2,
    so the upper bound is also a one-sided (1 + confidence) / 2 bound."""
    if not 0 <= k <= n or n < 1:
        raise ValueError(f"a rate needs 0 <= k <= n and n >= 1 (got {k} of {n})")
    tail = (1 - confidence) / 2
    low = 0.0 if k == 0 else float(stats.beta.ppf(tail, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - tail, k + 1, n - k))
    return low, high


def upper_bound(k: int, n: int, confidence: float = 0.95) -> float:
    """Exact one-sided upper bound on a rate of k in n (Clopper-Pearson): with 0 of n,
    1 - (1 - confidence)**(1/n)."""
    return clopper_pearson(k, n, 2 * confidence - 1)[1]


def ks_uniform(p_values: Sequence[float]) -> tuple[float, float]:
    """Kolmogorov-Smirnov test of p-values against uniform on [0, 1]: (D, p). Under
    unchanged code a calibrated test's p-values are uniform; a small p here says the
    gate's own statistics do not behave as claimed (tlsfuzzer's A/A check)."""
    if len(p_values) < 2:
        raise ValueError("a KS test needs at least two p-values")
    result = stats.kstest(list(p_values), "uniform")
    return float(result.statistic), float(result.pvalue)
