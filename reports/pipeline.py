"""The twin pipeline's figures as tables and text: ``dthq simulate`` prints them, the
report's pipeline section holds them (one rendering for both), with its figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dthq.harness import held as held_rate
from dthq.harness import scenarios
from dthq.harness.results import REALTIME_BUDGET_MS, STAGES, PipelineRun, Results
from dthq.twin.news2 import LABEL
from reports import policy
from reports.render.plot import log_log, plt, save
from reports.render.text import ms
from reports.section import Figure, Heading, Section, Table, Text
from reports.verdicts.outcome import Outcome

STAGE_HEADERS = ["stage", "p50 ms", "p95 ms", "p99 ms", "readings"]
STAGE_NOTES = {
    "transmit": "both MQTT hops",
    "decrypt": "device record at the gateway + batch record at the cloud",
    "gateway": "validation, batch wait, Brotli, encryption",
    "fhir": "R4B Bundle built and validated, per batch",
    "store": "sealed and committed, per batch",
    "twin": "update + partial NEWS2, per batch",
}


def stage_rows(run: PipelineRun) -> list[list[Any]]:
    timed = [
        (f"{name}: {STAGE_NOTES[name]}" if name in STAGE_NOTES else name, run.stages.get(name))
        for name in STAGES
    ]
    timed += [
        ("end to end, device -> twin", run.end_to_end),
        ("  of alert-relevant readings", run.alert_relevant),
    ]
    return [
        [label, ms(d.median), ms(d.p95), ms(d.p99), d.rounds] for label, d in timed if d is not None
    ]


def budget_line(run: PipelineRun) -> str:
    low, high = REALTIME_BUDGET_MS
    if run.end_to_end is None:
        return "real-time budget: nothing delivered"
    p99 = run.end_to_end.tail
    if p99 <= low:
        outcome, detail = Outcome.HOLDS, f" (p99 {p99:.1f} ms <= {low:g} ms)"
    elif p99 <= high:
        outcome, detail = Outcome.HOLDS, f" at the upper bound (p99 {p99:.1f} ms <= {high:g} ms)"
    else:
        outcome, detail = Outcome.DOES_NOT_HOLD, f" (p99 {p99:.1f} ms > {high:g} ms)"
    return (
        f"paper's real-time budget (Table 2: {low:g}-{high:g} ms end to end): "
        f"{outcome.value}{detail}"
    )


def summary_lines(run: PipelineRun) -> list[str]:
    c = run.counts
    where = run.broker or run.transport
    lines = [
        f"{run.patients} patients at {run.rate_hz:g} Hz for {run.duration_s:g} s over {where}"
        + (f" ({run.protocol})" if run.protocol else "")
        + f", QoS {run.qos}, {run.policy} policy",
        f"offered {run.offered_per_s:.1f} readings/s, sent {run.sent_per_s:.1f}/s, "
        f"delivered {run.delivered_per_s:.1f}/s",
        "readings: "
        + ", ".join(
            f"{k} {c.get(k, 0)}"
            for k in ("sent", "delivered", "rejected", "lost", "duplicated", "dropped")
        ),
    ]
    for reason, n in sorted(run.rejected.items()):
        example = run.rejection_examples.get(reason)
        lines.append(f"  rejected, {reason}: {n}" + (f" (e.g. {example})" if example else ""))
    delay = run.detection_delay_s
    lines.append(
        f"alerts raised ({LABEL}): {run.alerts}"
        + (
            f"; first alert {delay.median:.1f} s after a scripted onset (median of {delay.rounds})"
            if delay
            else ""
        )
    )
    per = run.gateway_bytes_per_reading
    cpu = run.cpu_ms_per_reading
    lines.append(
        "bytes up: "
        + ", ".join(f"{hop} {n}" for hop, n in sorted(run.bytes_up.items()))
        + (f" ({per:.1f} B/reading gateway -> cloud)" if per else "")
        + (f"; CPU {cpu:.3f} ms/reading" if cpu else "")
    )
    if run.reconnects:
        lines.append(
            f"reconnects: {run.reconnects}, longest time without the broker {run.down_ms:.0f} ms"
        )
    if run.processes:
        lines.append(
            f"each party its own process (pinned: {run.pin}); CPU s: "
            + ", ".join(f"{party} {s:.2f}" for party, s in sorted(run.cpu_s.items()))
            + " (the load generator's not in the ms/reading)"
        )
    lines.append(budget_line(run))
    return lines


# --- the report: loads, the highest rate held, the stages, the §7.1 comparison ------

LOAD_HEADERS = [
    "Broker",
    "Devices",
    "Hz each",
    "Offered /s",
    "Sent /s",
    "Delivered /s",
    "E2E p50 ms",
    "E2E p99 ms",
    "Lost",
    "CPU ms/reading",
    f"Held (p99 < {100:g} ms)",
]


def load_runs(runs: tuple[PipelineRun, ...]) -> list[PipelineRun]:
    return sorted(
        (r for r in runs if r.policy == "immediate"),
        key=lambda r: (r.broker, r.patients, r.rate_hz),
    )


def held(run: PipelineRun, p99_ms: float) -> bool:
    """Held as the held-rate suite defines it (dthq.harness.held): every reading sent
    delivered exactly once, the sender within 2 % of the offered rate, p99 end to end
    at most ``p99_ms``."""
    return not held_rate.why_not(held_rate.from_pipeline(run), p99_ms)


def load_rows(runs: tuple[PipelineRun, ...], p99_ms: float) -> list[list[Any]]:
    rows = []
    for r in load_runs(runs):
        e2e = r.end_to_end
        rows.append(
            [
                r.broker,
                r.patients,
                f"{r.rate_hz:g}",
                f"{r.offered_per_s:.0f}",
                f"{r.sent_per_s:.0f}",
                f"{r.delivered_per_s:.0f}",
                ms(e2e.median if e2e else None),
                ms(e2e.p99 if e2e else None),
                r.counts.get("lost", 0),
                ms(r.cpu_ms_per_reading),
                "yes" if held(r, p99_ms) else "no",
            ]
        )
    return rows


def highest_held(runs: tuple[PipelineRun, ...], p99_ms: float) -> dict[str, PipelineRun | None]:
    """Per broker: the load point with the highest delivered rate that was held."""
    out: dict[str, PipelineRun | None] = {}
    for r in load_runs(runs):
        best = out.setdefault(r.broker, None)
        if held(r, p99_ms) and (best is None or r.delivered_per_s > best.delivered_per_s):
            out[r.broker] = r
    return out


IN_ONE_PROCESS = "all parties in one process"
IN_PROCESSES = (
    "the load points with each party its own process (the broker, the cloud, the gateway, "
    "and the devices as the load generator; pinned: {pin}), their CPU ms/reading the "
    "broker's, gateway's and cloud's process CPU from the first reading sent until all "
    "settled, per delivered reading, the load generator's left out"
)
PIPELINE_NOTE = (
    "Measured on loopback, all parties in one process (devices share MQTT connections, 50 "
    "per connection, each device with its own topics and DTHQ session). Load points use the "
    "`immediate` gateway policy (no batch window beyond the 5 ms flush tick). Held (as in "
    "held.md): every reading sent delivered exactly once, the sender within 2 % of the "
    "offered rate, p99 end to end at most the limit. "
    "Stage times are what each reading experienced (a batch's decryption, FHIR and store "
    "are counted in full for every reading in it). The deterioration of scripted patients "
    "is SIMULATED telemetry, sped up 10x so that runs of seconds see alerts."
)


def _note(runs: tuple[PipelineRun, ...]) -> str:
    pins = sorted({r.pin for r in load_runs(runs) if r.processes})
    if not pins:
        return PIPELINE_NOTE
    return PIPELINE_NOTE.replace(IN_ONE_PROCESS, IN_PROCESSES.format(pin=" / ".join(pins)), 1)


def _held_lines(runs: tuple[PipelineRun, ...], limit: float) -> list[str]:
    lines = []
    for broker, run in sorted(highest_held(runs, limit).items()):
        held_at = (
            f"{run.patients} devices at {run.rate_hz:g} Hz, "
            f"{run.delivered_per_s:.0f} readings/s delivered"
            if run
            else "none of the load points"
        )
        lines.append(f"{broker}: the highest load held with p99 under {limit:g} ms: {held_at}")
    return lines


def _policy_blocks(runs: tuple[PipelineRun, ...]) -> list[Heading | Table | Text]:
    pair = policy.policy_pair(runs)
    if not pair:
        return []
    f = pair[0]
    return [
        Heading("A twin-driven adaptive gateway against a fixed one, patients deteriorating"),
        Text([
            f"Same load, same run: {f.patients} patients at {f.rate_hz:g} Hz for "
            f"{f.duration_s:g} s over {f.broker or f.transport}, QoS {f.qos}, a quarter of "
            "the patients scripted to deteriorate. Fixed: every reading waits for a 200 ms "
            "batch, Brotli 5. Adaptive: patients the twin watches (partial NEWS2 >= 2) go at "
            "once (Brotli 1); the others wait up to 400 ms, Brotli 9."
        ]),
        Table(policy.POLICY_HEADERS, policy.policy_rows(pair)),
        Text(["§7.1's claims are judged on the policy sweep (section71.md), not on this pair."]),
    ]  # fmt: skip


def section(results: Results) -> Section | None:
    runs, limit = results.pipeline, scenarios.PIPELINE_P99_MS
    if not runs:
        return None
    blocks: list[Heading | Table | Text] = [
        Heading("Throughput and latency under load"),
        Table(LOAD_HEADERS, load_rows(runs, limit)),
        Text(_held_lines(runs, limit), bullets=True),
    ]
    measured = load_runs(runs)
    if measured:
        r = min(measured, key=lambda r: (r.broker != measured[0].broker, r.offered_per_s))
        blocks += [
            Heading(f"Stage breakdown ({r.broker}, {r.patients} devices at {r.rate_hz:g} Hz)"),
            Table(STAGE_HEADERS, stage_rows(r)),
        ]
    blocks += [
        *_policy_blocks(runs),
        Heading("The paper's real-time budget"),
        Text([f"{r.key}: {budget_line(r)}" for r in runs], bullets=True),
        Text([_note(runs)]),
    ]
    figures = [Figure("figure-pipeline.png", figure)]
    return Section("The twin pipeline over MQTT", blocks, "pipeline.md", figures=figures)


def figure(results: Results, path: Path) -> Path | None:
    """Left: each stage's p50 for the load points (one bar group per broker at its
    lightest load). Right: end to end p50/p99 against load."""
    runs = load_runs(results.pipeline)
    if not runs:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 4.8))
    brokers = sorted({r.broker for r in runs})
    width = 0.8 / len(brokers)
    y = np.arange(len(STAGES))
    for i, broker in enumerate(brokers):
        mine = [r for r in runs if r.broker == broker]
        run = min(mine, key=lambda r: r.offered_per_s)
        values = [run.stages[s].median if s in run.stages else 0 for s in STAGES]
        left.barh(
            y + i * width,
            values,
            height=width,
            label=f"{broker}, {run.patients}x{run.rate_hz:g} Hz",
        )
        ordered = [r for r in sorted(mine, key=lambda r: r.offered_per_s) if r.end_to_end]
        x = [r.offered_per_s for r in ordered]
        right.plot(x, [r.end_to_end.median for r in ordered], "o-", label=f"{broker} p50")  # type: ignore[union-attr]
        p99 = [r.end_to_end.tail for r in ordered]  # type: ignore[union-attr]
        right.plot(x, p99, "s--", label=f"{broker} p99")
    left.set_yticks(y + width * (len(brokers) - 1) / 2, STAGES)
    left.invert_yaxis()
    left.set_xscale("log")
    left.set_xlabel("ms per reading, p50 (log)")
    left.legend(fontsize=8)
    left.grid(axis="x", alpha=0.3)
    right.axhline(100, color="#999", lw=0.8, ls=":")
    log_log(right, "offered readings per second (log)", "end to end ms, device -> twin (log)")
    title = "The twin pipeline over MQTT on loopback: stages and latency under load (measured)"
    return save(fig, path, title)
