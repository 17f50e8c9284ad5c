"""The regression gate: compare two results files on ratios, not absolute times.

Each figure is divided by its run's floor: the geometric mean of the primitive
times (KEM, AEAD, codec, ...) measured in the same run, over the primitives both
runs share. A uniformly slower or busier machine moves the floor with everything
else and passes; our own code getting slower moves its figures against the floor
and fails.

The gate compares each figure's fastest round, not its median: contention only
ever adds time, so the minimum is the most repeatable estimate of what the code
costs (the reports show medians). `dthq bench` also pins itself to one CPU, so a
run does not hop between cores of different load. A change inside its soft limit
(bench/gate/limits.toml), or inside the runs' own IQR noise, is "not significant"
(reported apart from faster/slower, as pyperf does); one beyond its hard limit (an
absolute value) is slower whatever the noise. The paired, tested time gate of a
same-runner A/B is bench/gate/paired.py.

Either side may be several runs of the same code, taken interleaved (base, head,
base, head): each figure is then the fastest round over all of that side's runs, so
a burst of contention that hit one run does not decide the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.gate.environment import environment_differences
from bench.gate.errors import GateError
from bench.gate.limits import Limit, Limits
from bench.gate.verdict import Verdict, judge, stale_hard_limits
from dthq.harness.results import Distribution, Metric, Results

__all__ = ["GateError", "Limits", "Verdict", "judge", "stale_hard_limits"]

Figure = tuple[float, float]  # (fastest round, relative noise: IQR / median)
Runs = Results | Sequence[Results]  # one run, or repeated runs of the same code
GATED_TABLE3 = (
    Metric.HANDSHAKE,
    Metric.LATENCY,
    Metric.MESSAGE,
    Metric.RECORD,
    Metric.COMP_OVERHEAD,
)
GATED_TABLE4 = (Metric.AL, Metric.CC)


def _fig(t: Distribution) -> Figure:
    return t.fastest, t.relative_noise


def figures(results: Results) -> dict[str, Figure]:
    out: dict[str, Figure] = {}
    for p in results.primitives:
        out[f"primitive {p.name}"] = _fig(p.time_us)
    for r in results.table3:
        for metric in GATED_TABLE3:
            if (t := r.get(metric)) is not None:
                out[f"table3 {r.key} {metric}"] = _fig(t)
    for c in results.table4:
        for metric in GATED_TABLE4:
            out[f"table4 {c.key} {metric}"] = _fig(c[metric])
    return out


def _runs(side: Runs) -> tuple[Results, ...]:
    runs = (side,) if isinstance(side, Results) else tuple(side)
    if not runs:
        raise GateError("a side of the comparison has no results")
    return runs


def floor(results: Results, names: set[str]) -> float:
    fastest = [p.time_us.fastest for p in results.primitives if p.name in names]
    if not fastest:
        raise GateError("no primitive is shared by both runs: nothing to normalise by")
    if min(fastest) <= 0:
        raise GateError("a primitive's fastest round is not positive: nothing to normalise by")
    return math.exp(sum(math.log(m) for m in fastest) / len(fastest))


@dataclass(frozen=True)
class Pooled:
    """One figure over a side's runs: the fastest raw round, the lowest floor-normalised
    value (each run divided by its own floor, so runs at different machine speeds pool
    fairly), and the runs' mean relative noise."""

    fastest: float
    normalised: float
    noise: float


def pooled(side: Runs, primitives: set[str]) -> dict[str, Pooled]:
    runs = _runs(side)
    per_run = [(figures(r), floor(r, primitives)) for r in runs]
    names = set.intersection(*(set(f) for f, _ in per_run))
    return {
        name: Pooled(
            min(f[name][0] for f, _ in per_run),
            min(f[name][0] / fl for f, fl in per_run),
            sum(f[name][1] for f, _ in per_run) / len(per_run),
        )
        for name in names
    }


def _primitive_names(side: Runs) -> set[str]:
    return set.intersection(*({p.name for p in r.primitives} for r in _runs(side)))


@dataclass(frozen=True)
class Change:
    figure: str
    baseline: float
    current: float
    ratio: float  # normalised current / normalised baseline
    noise: float  # relative IQR of the two runs, averaged
    verdict: Verdict
    ungated: str = ""  # why this figure is reported but cannot fail the gate
    tripped: str = ""  # the limit a slower verdict crossed: "soft 1.0%" or "hard 4e+06"
    p_value: float | None = None  # one-sided "slower" p (paired time gate); None: no test

    @property
    def gated(self) -> bool:
        """Only our code's figures can fail the gate; the primitives are the reference
        itself (library and machine), reported so a moved floor is visible."""
        return not self.figure.startswith("primitive ") and not self.ungated


def _change(
    name: str, b: float, c: float, ratio: float, noise: float, limit: Limit, ungated: str = ""
) -> Change:
    """No test: a move is significant when it is beyond the runs' own spread."""
    verdict, tripped = judge(ratio, c, limit, abs(ratio - 1) > noise, b)
    return Change(
        name, b, c, ratio, noise, verdict, ungated, tripped if verdict == "slower" else ""
    )


def compare(baseline: Runs, current: Runs, limits: Limits) -> list[Change]:
    shared_primitives = _primitive_names(baseline) & _primitive_names(current)
    base, cur = pooled(baseline, shared_primitives), pooled(current, shared_primitives)
    changes = []
    for name in sorted(base.keys() & cur.keys()):
        b, c = base[name], cur[name]
        ratio = c.normalised / b.normalised
        noise = (b.noise + c.noise) / 2
        limit = limits.of("normalised", name)
        changes.append(_change(name, b.fastest, c.fastest, ratio, noise, limit))
    return changes


RANDOMISED = "randomised: its count moves between runs of the same code"


def compare_per_op(
    baseline: Sequence[Mapping[str, float]],
    current: Sequence[Mapping[str, float]],
    limits: Limits,
    randomised: Collection[str] = (),
    metric: str = "instructions",
) -> list[Change]:
    """Per-operation figures (instructions, or seconds from a same-runner A/B), each
    side one or more runs: a figure is its lowest value over a side's runs, its noise
    the spread between them. No floor: both sides ran on one machine in one job, or the
    metric (instructions) does not move with the machine."""
    if not baseline or not current:
        raise GateError("a side of the comparison has no runs")

    def lowest(runs: Sequence[Mapping[str, float]], name: str) -> tuple[float, float]:
        values = [r[name] for r in runs]
        return min(values), max(values) / min(values) - 1

    names = set.intersection(*(set(r) for r in (*baseline, *current)))
    changes = []
    for name in sorted(names):
        (b, b_noise), (c, c_noise) = lowest(baseline, name), lowest(current, name)
        ratio, noise = c / b, (b_noise + c_noise) / 2
        ungated = RANDOMISED if name in randomised else ""
        changes.append(_change(name, b, c, ratio, noise, limits.of(metric, name), ungated))
    return changes


def instruction_counts(results: Results) -> tuple[dict[str, float], set[str]]:
    """A results file's instruction counts: (per-op by figure, the randomised ones)."""
    return (
        {c.figure: c.per_op for c in results.instructions},
        {c.figure for c in results.instructions if c.randomised},
    )


@dataclass(frozen=True)
class GateReport:
    """The gate's decision over two runs: what moved, and what differs between them."""

    changes: list[Change]
    limits: Limits
    warnings: list[str]
    accepted: str | None = None  # a Perf-Regression-Accepted trailer's reason
    normalised: bool = False  # ratios of floor-normalised figures (two stored runs, by time)
    metric: str = "time"  # or "instructions"
    alpha: float | None = None  # the family-wise level of a paired test; None: no test
    pairs: int = 0  # interleaved base/head pairs behind a paired test

    @property
    def threshold(self) -> float:
        """The metric's default soft limit."""
        return self.limits.soft["normalised" if self.normalised else self.metric]

    @property
    def gated(self) -> list[Change]:
        return [c for c in self.changes if c.gated]

    def count(self, verdict: Verdict) -> int:
        return sum(c.verdict is verdict for c in self.gated)

    @property
    def regressed(self) -> bool:
        return self.count(Verdict.SLOWER) > 0

    @property
    def failed(self) -> bool:
        return self.regressed and self.accepted is None

    def to_json(self) -> dict[str, Any]:
        """What ``dthq compare --json`` prints."""
        return {
            "failed": self.failed,
            "metric": self.metric,
            "threshold": self.threshold,
            "limits": self.limits.source,
            "alpha": self.alpha,
            "pairs": self.pairs,
            "accepted": self.accepted,
            "warnings": self.warnings,
            "changes": [asdict(c) | {"gated": c.gated} for c in self.changes],
        }

    def summary(self) -> str:
        gated = len(self.gated)
        test = (
            f"Wilcoxon signed-rank over {self.pairs} pairs, family-wise alpha {self.alpha:g} "
            f"(Bonferroni: {self.alpha / max(gated, 1):.2g} a figure)"
            if self.alpha is not None
            else "no significance test: a move must pass the runs' own spread"
        )
        return (
            f"{gated} gated figures: {self.count(Verdict.SLOWER)} slower, "
            f"{self.count(Verdict.FASTER)} faster, {self.count(Verdict.NOT_SIGNIFICANT)} not "
            f"significant (threshold {self.threshold:.1%}, limits {self.limits.source}; "
            f"{test}); {len(self.changes) - gated} "
            "reference figures (primitive floor, randomised counts) reported, not gated"
        )


def run_gate(baseline: Runs, current: Runs, limits: Limits) -> GateReport:
    return GateReport(
        compare(baseline, current, limits),
        limits,
        environment_differences(baseline, current),
        normalised=True,
    )


def parse_threshold(text: str) -> float:
    """'10%' or '0.1' -> 0.1."""
    value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    if not 0 < value < 10:
        raise ValueError(f"threshold {text!r} must be a positive fraction or percentage")
    return value
