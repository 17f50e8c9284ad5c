"""The paper's §7.1 on our pipeline: a twin-driven adaptive gateway against a fixed one,
run at the same load, and the three improvements the paper's conclusion claims for it."""

from __future__ import annotations

from typing import Any

from dthq.harness.results import PipelineRun
from reports.render.text import ms


def policy_pair(runs: tuple[PipelineRun, ...]) -> tuple[PipelineRun, PipelineRun] | None:
    fixed = next((r for r in runs if r.policy == "fixed"), None)
    adaptive = next((r for r in runs if r.policy == "adaptive"), None)
    return (fixed, adaptive) if fixed and adaptive else None


POLICY_HEADERS = [
    "Policy",
    "Delivered",
    "Alert-relevant p50 ms",
    "Alert-relevant p99 ms",
    "All readings p50 ms",
    "Gateway -> cloud B/reading",
    "CPU ms/reading",
    "Readings per CPU-second",
    "Alerts",
]


def policy_rows(pair: tuple[PipelineRun, PipelineRun]) -> list[list[Any]]:
    rows = []
    for r in pair:
        rel, e2e, cpu = r.alert_relevant, r.end_to_end, r.cpu_ms_per_reading
        per = r.gateway_bytes_per_reading
        rows.append(
            [
                r.policy,
                r.counts.get("delivered", 0),
                ms(rel.median if rel else None),
                ms(rel.p99 if rel else None),
                ms(e2e.median if e2e else None),
                "-" if per is None else f"{per:.1f}",
                ms(cpu),
                "-" if not cpu else f"{1000 / cpu:.0f}",
                r.alerts,
            ]
        )
    return rows


# The paper's conclusion: the twin cuts latency 40 %, raises throughput 30 %, efficiency 15 %.
SECTION71 = (
    (
        "40 % latency reduction with the digital twin",
        0.40,
        "1 - (median end to end latency of alert-relevant readings, adaptive / fixed); "
        "alert-relevant: the patient's partial NEWS2 total is 2 or more at that reading",
    ),
    (
        "30 % throughput increase with the digital twin",
        0.30,
        "(readings delivered per CPU-second of all parties, adaptive / fixed) - 1: the "
        "capacity on this machine at the same offered load",
    ),
    (
        "15 % efficiency gain with the digital twin",
        0.15,
        "1 - (gateway -> cloud bytes on the wire per delivered reading, adaptive / fixed)",
    ),
)


def section71(runs: tuple[PipelineRun, ...]) -> list[tuple[str, float, float | None, str]]:
    """(claim, claimed fraction, measured fraction or None, our definition)."""
    pair = policy_pair(runs)
    measured: list[float | None] = [None, None, None]
    if pair:
        fixed, adaptive = pair
        fr, ar = fixed.alert_relevant, adaptive.alert_relevant
        if fr and ar and fr.median:
            measured[0] = 1 - ar.median / fr.median
        fc, ac = fixed.cpu_ms_per_reading, adaptive.cpu_ms_per_reading
        if fc and ac:
            measured[1] = fc / ac - 1
        fb, ab = fixed.gateway_bytes_per_reading, adaptive.gateway_bytes_per_reading
        if fb and ab:
            measured[2] = 1 - ab / fb
    return [(c, claimed, m, d) for (c, claimed, d), m in zip(SECTION71, measured, strict=True)]
