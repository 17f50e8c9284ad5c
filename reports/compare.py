"""The regression gate: compare two results files on ratios, not absolute times.

Each figure is divided by its run's floor: the geometric mean of the primitive
times (KEM, AEAD, codec, ...) measured in the same run, over the primitives both
runs share. A uniformly slower or busier machine moves the floor with everything
else and passes; our own code getting slower moves its figures against the floor
and fails.

The gate compares each figure's fastest round, not its median: contention only
ever adds time, so the minimum is the most repeatable estimate of what the code
costs (the reports show medians). `dthq bench` also pins itself to one CPU, so a
run does not hop between cores of different load. A change inside the threshold,
or inside the runs' own IQR noise, is "not significant" (reported apart from
faster/slower, as pyperf does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

Figure = tuple[float, float]  # (fastest round, relative noise: IQR / median)


def _fig(t: dict[str, float]) -> Figure:
    return t.get("min", t["median"]), t["iqr"] / t["median"]


def figures(results: dict[str, Any]) -> dict[str, Figure]:
    out: dict[str, Figure] = {}
    for p in results["primitives"]:
        out[f"primitive {p['name']}"] = (
            p.get("min_us", p["median_us"]),
            p["iqr_us"] / p["median_us"],
        )
    for r in results["table3"]:
        for fig in ("handshake_ms", "latency_ms", "message_ms", "comp_overhead_ms"):
            if fig in r:
                out[f"table3 {r.get('key', r['scheme'])} {fig}"] = _fig(r[fig])
    for r in results["table4"]:
        key = f"{r['key_length']}-{r['edge']}-{r['size']}"
        for fig in ("al_ms", "cc_ms"):
            out[f"table4 {key} {fig}"] = _fig(r[fig])
    return out


def floor(results: dict[str, Any], names: set[str]) -> float:
    medians = [p.get("min_us", p["median_us"]) for p in results["primitives"] if p["name"] in names]
    if not medians:
        raise ValueError("no primitive is shared by both runs: nothing to normalise by")
    return math.exp(sum(math.log(m) for m in medians) / len(medians))


@dataclass(frozen=True)
class Change:
    figure: str
    baseline: float
    current: float
    ratio: float  # normalised current / normalised baseline
    noise: float  # relative IQR of the two runs, averaged
    verdict: str  # "slower", "faster", "not significant"

    @property
    def gated(self) -> bool:
        """Only our code's figures can fail the gate; the primitives are the reference
        itself (library and machine), reported so a moved floor is visible."""
        return not self.figure.startswith("primitive ")


def compare(baseline: dict[str, Any], current: dict[str, Any], threshold: float) -> list[Change]:
    shared_primitives = {p["name"] for p in baseline["primitives"]} & {
        p["name"] for p in current["primitives"]
    }
    base_floor = floor(baseline, shared_primitives)
    cur_floor = floor(current, shared_primitives)
    base, cur = figures(baseline), figures(current)
    changes = []
    for name in sorted(base.keys() & cur.keys()):
        (bm, bn), (cm, cn) = base[name], cur[name]
        ratio = (cm / cur_floor) / (bm / base_floor)
        noise = (bn + cn) / 2
        moved = abs(ratio - 1)
        if moved <= threshold or moved <= noise:
            verdict = "not significant"
        else:
            verdict = "slower" if ratio > 1 else "faster"
        changes.append(Change(name, bm, cm, ratio, noise, verdict))
    return changes


def parse_threshold(text: str) -> float:
    """'10%' or '0.1' -> 0.1."""
    value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    if not 0 < value < 10:
        raise ValueError(f"threshold {text!r} must be a positive fraction or percentage")
    return value
