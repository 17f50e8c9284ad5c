"""A twin-driven adaptive gateway against a fixed one at the same load, with a quarter of
the patients deteriorating: what each policy does for alert-relevant readings. §7.1's
claims are judged on the policy sweep (reports/policy_sweep.py), not on this pair."""

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
