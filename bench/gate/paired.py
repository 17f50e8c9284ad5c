"""The time gate of a same-runner A/B, tested: interleaved base/head runs are pairs, each
figure gets a one-sided Wilcoxon signed-rank p-value for "slower" on the pairs' log
ratios, and Bonferroni over the gated figures holds the chance of any false alarm in
a gate run at alpha. A figure is slower when significant AND beyond its soft limit, or
beyond its hard limit (absolute seconds per operation) whatever the test says.

Too few pairs for the smallest possible p-value to pass alpha / figures is a GateError
(exit 2): the gate cannot judge, which is never a regression.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Collection, Mapping, Sequence

from bench.gate.compare import RANDOMISED, Change, GateError, Verdict, judge
from bench.gate.limits import Limits
from bench.gate.stats import ALPHA, bonferroni, log_ratios, min_pairs, p_slower

Run = Mapping[str, float]


def check_pairs(pairs: int, figures: int, alpha: float = ALPHA) -> None:
    """GateError unless ``pairs`` can reach significance over ``figures`` tests."""
    need = min_pairs(figures, alpha)
    if pairs < need:
        raise GateError(
            f"too few samples to judge: {pairs} base/head pairs, and {figures} figures at "
            f"family-wise alpha {alpha:g} need at least {need} (the smallest p-value of "
            f"{pairs} pairs, 2^-{pairs}, cannot pass {alpha:g}/{figures}): rerun with "
            f"--pairs {need} or more"
        )


def compare_paired(
    base: Sequence[Run],
    head: Sequence[Run],
    limits: Limits,
    randomised: Collection[str] = (),
    alpha: float = ALPHA,
) -> list[Change]:
    """Each figure's paired verdict; run i of ``base`` is paired with run i of ``head``
    (taken back to back, so drift hits both alike)."""
    if len(base) != len(head):
        raise GateError(f"{len(base)} base runs against {len(head)} head runs: not paired")
    if not base:
        raise GateError("a side of the comparison has no runs")
    names = sorted(set.intersection(*(set(r) for r in (*base, *head))))
    gated = [n for n in names if n not in randomised]
    check_pairs(len(base), max(len(gated), 1), alpha)
    level = bonferroni(alpha, len(gated))
    changes = []
    for name in names:
        b, h = [r[name] for r in base], [r[name] for r in head]
        try:
            diffs = log_ratios(b, h)
        except ValueError as exc:
            raise GateError(f"{name}: {exc}") from None
        p = p_slower(diffs)
        p_faster = p_slower([-d for d in diffs])
        ratio = math.exp(statistics.median(diffs))  # the typical pair's ratio
        q1, _, q3 = statistics.quantiles(diffs, n=4, method="inclusive")
        noise = math.exp(q3) - math.exp(q1)  # the pairs' own IQR, as a ratio
        significant = (p if ratio >= 1 else p_faster) <= level
        limit = limits.of("time", name)
        verdict, tripped = judge(ratio, min(h), limit, significant, min(b))
        ungated = RANDOMISED if name in randomised else ""
        changes.append(
            Change(
                name, min(b), min(h), ratio, noise, verdict, ungated,
                tripped if verdict is Verdict.SLOWER else "", p,
            )
        )  # fmt: skip
    return changes
