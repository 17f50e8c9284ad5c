"""Every rate of the gate's power benchmark, derived from its raw measurements (so a
soft limit not tried at measurement time can be judged from the same runs), and its
markdown."""

from __future__ import annotations

import itertools
import math
import statistics
from typing import Any

from bench.gate.compare import Verdict, compare_per_op
from bench.gate.limits import Limits, load
from bench.gate.stats import ALPHA, bonferroni, ks_uniform, log_ratios, p_slower, upper_bound

FIGURE = "handshake/dthq-mlkem768-psk"
FRACTIONS = (0.01, 0.02, 0.03, 0.05)  # the injected slowdowns
INSTRUCTION_SOFT = (0.005, 0.01, 0.015, 0.02, 0.03)
TIME_SOFT = (0.0, 0.01, 0.02, 0.03, 0.05, 0.10)
QUICK_FIGURES = 24  # the quick set's gated figures, when no instruction run counted them


def _uniform(soft: float) -> Limits:
    return Limits(f"soft {soft:.1%}", {"instructions": soft, "time": soft})


def _rate(k: int, n: int) -> dict[str, Any]:
    return {"k": k, "n": n, "rate": k / n, "upper95": upper_bound(k, n)}


def _slower(base: dict[str, float], head: dict[str, float], limits: Limits) -> list[str]:
    changes = compare_per_op([base], [head], limits)
    return [c.figure for c in changes if c.gated and c.verdict is Verdict.SLOWER]


def instruction_summary(ins: dict[str, Any], configured: Limits) -> dict[str, Any]:
    aa = ins["aa"]
    pairs = list(itertools.pairwise(aa))
    names = sorted(set.intersection(*(set(r) for r in aa)))
    spread = {n: max(r[n] for r in aa) / min(r[n] for r in aa) - 1 for n in names}
    candidates = {f"{s:g}": _uniform(s) for s in INSTRUCTION_SOFT} | {"configured": configured}
    false_alarms, detection = {}, {}
    for key, limits in candidates.items():
        slowed = [_slower(b, h, limits) for b, h in pairs]
        false_alarms[key] = {
            "runs": _rate(sum(bool(s) for s in slowed), len(pairs)),
            "figures": _rate(sum(map(len, slowed)), len(pairs) * len(names)),
        }
        detection[key] = {
            f"{frac:g}": _rate(
                sum(
                    bool(_slower({FIGURE: b}, {FIGURE: h}, limits))
                    for b, h in zip(ins["base"], step["counts"], strict=False)
                ),
                min(len(ins["base"]), len(step["counts"])),
            )
            for frac, step in ((float(f), s) for f, s in ins["injected"].items())
        }
    measured = {
        f: statistics.median(s["counts"]) / min(ins["base"]) - 1 for f, s in ins["injected"].items()
    }
    worst = max(spread, key=spread.__getitem__)
    return {
        "comparisons": len(pairs),
        "figures": len(names),
        "spread": spread,
        "worst_spread": spread[worst],
        "worst_spread_figure": worst,
        "handshake": min(ins["base"]),
        "false_alarms": false_alarms,
        "detection": detection,
        "measured": measured,
    }


def _tested(comparison: dict[str, list[float]]) -> tuple[float, float]:
    diffs = log_ratios(comparison["base"], comparison["head"])
    return p_slower(diffs), math.exp(statistics.median(diffs)) - 1


def time_summary(tim: dict[str, Any], figures: int) -> dict[str, Any]:
    aa = [_tested(c) for c in tim["aa"]]
    steps = {f: [_tested(c) for c in s["comparisons"]] for f, s in tim["injected"].items()}
    levels = {"1 figure": bonferroni(ALPHA, 1), f"{figures} figures": bonferroni(ALPHA, figures)}
    false_alarms: dict[str, Any] = {}
    detection: dict[str, Any] = {}
    for name, level in levels.items():
        for soft in TIME_SOFT:
            key = f"{name}, soft {soft:g}"

            def caught(p: float, moved: float, level: float = level, soft: float = soft) -> bool:
                return p <= level and moved > soft

            false_alarms[key] = _rate(sum(caught(*t) for t in aa), len(aa))
            detection[key] = {
                f: _rate(sum(caught(*t) for t in s), len(s)) for f, s in steps.items()
            }
    d, p_ks = ks_uniform([p for p, _ in aa])
    return {
        "comparisons": len(aa),
        "pairs": tim["pairs"],
        "levels": levels,
        "aa_p_values": [p for p, _ in aa],
        "aa_moved": [m for _, m in aa],
        "ks": {"D": d, "p": p_ks},
        "false_alarms": false_alarms,
        "detection": detection,
        "measured": {f: statistics.median(m for _, m in s) for f, s in steps.items()},
    }


def analyse(raw: dict[str, Any], configured: Limits | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    figures = QUICK_FIGURES
    if "instructions" in raw:
        out["instructions"] = instruction_summary(raw["instructions"], configured or load())
        figures = out["instructions"]["figures"]
    out["time"] = time_summary(raw["time"], figures)
    return out


def _pct(r: dict[str, Any]) -> str:
    return f"{r['k']}/{r['n']} ({r['rate']:.0%}, <= {r['upper95']:.0%})"


def markdown(result: dict[str, Any]) -> str:
    s = result["summary"]
    lines = [
        "# The regression gate's error rates (measured)",
        "",
        f"Measured on {result['machine']} ({result['cores']} cores, shared with other "
        f"work), commit {result['commit'][:10]}, {result['date']}, {result['valgrind']}; "
        f"{result['wall_s']} s. Figure: {result['figure']}; slowdowns injected as an empty "
        "loop in DTHQ's initiator. Rates as k/n (rate, exact 95 % upper bound).",
        "",
    ]
    if ins := s.get("instructions"):
        lines += [
            f"Instructions: {ins['comparisons']} A/A comparisons of {ins['figures']} figures; "
            f"worst spread {ins['worst_spread']:.2%} ({ins['worst_spread_figure']}). No "
            "p-value: a count is deterministic, a move is judged against its soft limit.",
            "",
            "| soft limit | false alarms (runs) | false alarms (figures) | "
            + " | ".join(f"caught +{float(f):.0%}" for f in ins["measured"])
            + " |",
            "|---" * (3 + len(ins["measured"])) + "|",
        ]
        for key, fa in ins["false_alarms"].items():
            caught = " | ".join(_pct(r) for r in ins["detection"][key].values())
            label = key if key == "configured" else f"{float(key):.1%}"
            lines.append(f"| {label} | {_pct(fa['runs'])} | {_pct(fa['figures'])} | {caught} |")
        lines.append("")
    t = s["time"]
    lines += [
        f"Time: {t['comparisons']} A/A comparisons, {t['pairs']} interleaved pairs each; "
        f"KS of their p-values against uniform: D = {t['ks']['D']:.3f}, p = {t['ks']['p']:.3f}. "
        f"Measured slowdowns: "
        + ", ".join(f"+{float(f):.0%} -> {m:+.1%}" for f, m in t["measured"].items()),
        "",
        "| Bonferroni over, soft limit | false alarms | "
        + " | ".join(f"caught +{float(f):.0%}" for f in t["measured"])
        + " |",
        "|---" * (2 + len(t["measured"])) + "|",
    ]
    for key, fa in t["false_alarms"].items():
        caught = " | ".join(_pct(r) for r in t["detection"][key].values())
        lines.append(f"| {key} | {_pct(fa)} | {caught} |")
    return "\n".join([*lines, ""])
