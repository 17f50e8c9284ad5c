"""results -> the report directory: results.json, tables, comparison, figures, HTML."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from dthq.harness import scenarios
from dthq.harness.results import Results
from dthq.harness.results_json import dump, to_dict
from reports import device, figures, fleet, paper, pipeline, table5, tables, targets, wire
from reports.page import document, pictures, table_html
from reports.summary import SUMMARY_CSS, Summary

FILES = (
    "results.json",
    "summary.md",
    "table3.md",
    "table3.csv",
    "table4.md",
    "table4.csv",
    "forged-hello.md",
    "qkd.md",
    "pipeline.md",
    "wire.md",
    "device.md",
    "table5.md",
    "paper-comparison.md",
    "targets.md",
    "figure-table4.png",
    "figure-handshake.png",
    "figure-qkd-rate.png",
    "figure-cascade.png",
    "figure-pipeline.png",
    "figure-wire.png",
    "figure-paper-table3.png",
    "figure-paper-table4.png",
    "figure-latency-box.png",
    "report.html",
)
FLEET_FILES = ("fleet.md", "figure-fleet-capacity.png")  # when the results hold fleets


def _comparison_rows(results: Results) -> tuple[list[str], list[list[str]]]:
    headers = ["Source", "Claim", "Paper", "Ours (median)", "Ratio ours/paper", "Verdict"]
    return headers, [
        [c.source, c.claim, c.paper, c.ours, c.ratio, c.verdict] for c in paper.claims(results)
    ]


def _target_rows(results: Results) -> tuple[list[str], list[list[str]]]:
    headers = ["Target", "Measured", "Limit", "Verdict", "How"]
    rows = []
    for t in targets.evaluate(results):
        rows.append([t.name, t.measured_text, f"{t.limit:g}{t.unit}", t.verdict, t.how])
    return headers, rows


def write_report(results: Results, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    machine = tables.machine_line(results)
    written = []

    def put(name: str, text: str) -> None:
        (out / name).write_text(text)
        written.append(out / name)

    written.append(dump(results, out / "results.json"))
    summary = Summary.of(results)
    put("summary.md", summary.markdown())
    t3 = tables.table3_rows(results)
    t4 = tables.table4_rows(results)
    put(
        "table3.md",
        f"# Table 3 (measured beside the paper)\n\nMachine: {machine}\n\n"
        f"{tables.markdown(tables.TABLE3_HEADERS, t3)}\n\n{tables.TABLE3_NOTE}\n",
    )
    put("table3.csv", tables.csv_text(tables.TABLE3_HEADERS, t3))
    put(
        "table4.md",
        f"# Table 4 (measured beside the paper)\n\nMachine: {machine}\n\n"
        f"{tables.markdown(tables.TABLE4_HEADERS, t4)}\n\n{tables.TABLE4_NOTE}\n",
    )
    put("table4.csv", tables.csv_text(tables.TABLE4_HEADERS, t4))
    fh = tables.forged_hello_rows(results)
    put(
        "forged-hello.md",
        f"# What a forged HELLO costs B\n\nMachine: {machine}\n\n"
        f"{tables.markdown(tables.FORGED_HELLO_HEADERS, fh)}\n\n{tables.FORGED_HELLO_NOTE}\n",
    )
    qkd = _qkd_tables(results)
    put("qkd.md", f"# QKD, SIMULATED link\n\nMachine: {machine}\n\n" + "\n\n".join(
        f"## {title}\n\n{tables.markdown(headers, rows)}" for title, headers, rows in qkd
    ) + f"\n\n{tables.QKD_NOTE}\n")  # fmt: skip
    put(
        "wire.md",
        f"# What goes on the wire\n\nMachine: {machine}\n\n"
        f"{tables.markdown(wire.WIRE_HEADERS, wire.wire_rows(results))}\n\n{wire.WIRE_NOTE}\n",
    )
    sections = [
        ("What goes on the wire", wire.WIRE_HEADERS, wire.wire_rows(results), [wire.WIRE_NOTE]),
        (
            "What a device pays (Cortex-M4, MODELLED)",
            device.DEVICE_HEADERS,
            device.device_rows(results),
            [device.DEVICE_NOTE],
        ),
        (
            "The paper's Table 5, recomputed",
            table5.TABLE5_HEADERS,
            table5.table5_rows(results),
            [table5.TABLE5_NOTE, *table5.verdicts(results)],
        ),
    ]
    if results.instructions:
        sections.append(
            (
                f"Instructions per operation (callgrind, {results.metadata.valgrind})",
                tables.INSTRUCTION_HEADERS,
                tables.instruction_rows(results),
                [tables.INSTRUCTION_NOTE],
            )
        )
    names = ("device.md", "table5.md", "instructions.md")
    fleet_sections = _fleet_sections(results)
    if fleet_sections:
        put("fleet.md", f"# Device fleets on Locust\n\nMachine: {machine}\n\n" + "\n\n".join(
            f"## {title}\n\n{tables.markdown(headers, rows)}\n\n" + "\n".join(
                f"- {n}" for n in notes)
            for title, headers, rows, notes in fleet_sections
        ) + "\n")  # fmt: skip
    for name, (title, headers, rows, notes) in zip(names, sections[1:], strict=False):
        notes_md = "\n\n".join(f"- {n}" if i else n for i, n in enumerate(notes))
        put(
            name,
            f"# {title}\n\nMachine: {machine}\n\n{tables.markdown(headers, rows)}\n\n{notes_md}\n",
        )
    if results.pipeline:
        put(
            "pipeline.md",
            f"# The twin pipeline over MQTT\n\nMachine: {machine}\n\n{_pipeline_md(results)}",
        )
    ch, cr = _comparison_rows(results)
    put(
        "paper-comparison.md",
        f"# The paper's claims on this machine\n\nMachine: {machine}\n\n"
        f"{tables.markdown(ch, cr)}\n\n{paper.DEFINITIONS}",
    )
    th, tr = _target_rows(results)
    put("targets.md", f"# Performance targets\n\nMachine: {machine}\n\n{tables.markdown(th, tr)}\n")
    images = []
    for name, draw in (
        ("figure-paper-table3.png", figures.paper_table3_figure),
        ("figure-paper-table4.png", figures.paper_table4_figure),
        ("figure-latency-box.png", figures.latency_box_figure),
        ("figure-table4.png", figures.table4_figure),
        ("figure-handshake.png", figures.handshake_figure),
        ("figure-qkd-rate.png", figures.qkd_rate_figure),
        ("figure-cascade.png", figures.cascade_figure),
        ("figure-pipeline.png", figures.pipeline_figure),
        ("figure-wire.png", figures.wire_figure),
        ("figure-fleet-capacity.png", lambda r, path: fleet.figure_capacity(r.fleet, path)),
    ):
        if draw(results, out / name):
            written.append(out / name)
            images.append(out / name)
    put(
        "report.html",
        _html(
            results, summary, t3, t4, fh, qkd, (ch, cr), (th, tr), images,
            sections + fleet_sections,
        ),
    )  # fmt: skip
    return written


def _fleet_sections(results: Results) -> list[tuple[str, list[str], list[list[Any]], list[str]]]:
    runs = results.fleet
    if not runs:
        return []
    out = [
        (
            "Device fleets on Locust: scenarios",
            fleet.SCENARIO_HEADERS,
            fleet.scenario_rows(fleet.scenario_runs(runs)),
            [fleet.SCENARIO_NOTE],
        )
    ]  # fmt: skip
    curve = [r for r in runs if r.scenario == "steady"]
    if len(curve) > 1:
        out.append(
            (
                "Fleet capacity (measured on this machine)",
                fleet.CAPACITY_HEADERS,
                fleet.capacity_rows(curve),
                [*fleet.knee_lines(curve), fleet.CAPACITY_NOTE],
            )
        )
    model = fleet.model_for(runs)
    if model is not None:
        out.append(
            (
                "A 100,000-device region (MODELLED from measured per-unit costs)",
                fleet.MODEL_HEADERS,
                fleet.model_rows(model),
                [fleet.MODEL_NOTE],
            )
        )
    return out


def _pipeline_md(results: Results) -> str:
    runs, limit = results.pipeline, scenarios.PIPELINE_P99_MS
    loads = pipeline.load_rows(runs, limit)
    parts = [
        "## Throughput and latency under load\n",
        tables.markdown(pipeline.LOAD_HEADERS, loads),
    ]
    for broker, run in sorted(pipeline.highest_held(runs, limit).items()):
        held = (
            f"{run.patients} devices at {run.rate_hz:g} Hz, "
            f"{run.delivered_per_s:.0f} readings/s delivered"
            if run
            else "none of the load points"
        )
        parts.append(f"- {broker}: the highest load held with p99 under {limit:g} ms: {held}")
    measured = pipeline.load_runs(runs)
    if measured:
        r = min(measured, key=lambda r: (r.broker != measured[0].broker, r.offered_per_s))
        title = f"Stage breakdown ({r.broker}, {r.patients} devices at {r.rate_hz:g} Hz)"
        parts += [
            f"\n## {title}\n",
            tables.markdown(pipeline.STAGE_HEADERS, pipeline.stage_rows(r)),
        ]
    pair = pipeline.policy_pair(runs)
    if pair:
        f = pair[0]
        parts += [
            "\n## The paper's §7.1: a twin-driven adaptive gateway against a fixed one\n",
            f"Same load, same run: {f.patients} patients at {f.rate_hz:g} Hz for "
            f"{f.duration_s:g} s over {f.broker or f.transport}, QoS {f.qos}, a quarter of "
            "the patients scripted to deteriorate. Fixed: every reading waits for a 200 ms "
            "batch, Brotli 5. Adaptive: patients the twin watches (partial NEWS2 >= 2) go at "
            "once (Brotli 1); the others wait up to 400 ms, Brotli 9.\n",
            tables.markdown(pipeline.POLICY_HEADERS, pipeline.policy_rows(pair)),
            "",
            *(
                f"- {claim}: measured "
                + ("-" if got is None else f"{got:+.1%}")
                + f" ({definition})"
                for claim, _, got, definition in pipeline.section71(runs)
            ),
        ]
    budget = [f"- {r.key}: {pipeline.budget_line(r)}" for r in runs]
    parts += ["\n## The paper's real-time budget\n", *budget, "", pipeline.PIPELINE_NOTE, ""]
    return "\n".join(parts)


def _qkd_tables(results: Results) -> list[tuple[str, list[str], list[list[Any]]]]:
    return [
        ("Secret key rate (SIMULATED)", tables.QKD_SWEEP_HEADERS, tables.qkd_sweep_rows(results)),
        ("One key: time and rounds (SIMULATED link)", tables.QKD_KEY_HEADERS,
         tables.qkd_key_rows(results)),
        ("Cascade alone, beside cascade-python", tables.CASCADE_HEADERS,
         tables.cascade_rows(results)),
    ]  # fmt: skip


LEADING_FIGURES = ("figure-paper-table3.png", "figure-paper-table4.png", "figure-latency-box.png")


def _html(
    results: Results,
    summary: Summary,
    t3: list[list[Any]],
    t4: list[list[Any]],
    fh: list[list[Any]],
    qkd: list[tuple[str, list[str], list[list[Any]]]],
    comparison: tuple[list[str], list[list[str]]],
    target_table: tuple[list[str], list[list[str]]],
    images: list[Path],
    sections: list[tuple[str, list[str], list[list[Any]], list[str]]],
) -> str:
    extra = "".join(
        f"<h2>{html.escape(title)}</h2>{table_html(headers, rows)}"
        + "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes)
        for title, headers, rows, notes in sections
    )
    leading = [p for p in images if p.name in LEADING_FIGURES]
    figures_html = pictures([p for p in images if p not in leading])
    meta = html.escape(json.dumps(to_dict(results)["metadata"], indent=1))
    return document(
        "DTHQ bench report",
        f"""<p>Generated {html.escape(results.created)} by {html.escape(results.generator)}.</p>
{summary.html()}
<h2>The paper beside us, and how our latencies spread</h2>{pictures(leading)}
<h2>Table 3: DTHQ beside the baselines</h2>{table_html(tables.TABLE3_HEADERS, t3)}
<p class="note">{html.escape(tables.TABLE3_NOTE)}</p>
<h2>Table 4: DTHQ by key length, edge and size</h2>{table_html(tables.TABLE4_HEADERS, t4)}
<p class="note">{html.escape(tables.TABLE4_NOTE)}</p>
<h2>What a forged HELLO costs B (the stateless retry)</h2>
{table_html(tables.FORGED_HELLO_HEADERS, fh)}
<p class="note">{html.escape(tables.FORGED_HELLO_NOTE)}</p>
<h2>QKD (SIMULATED link)</h2>
{"".join(f"<h3>{html.escape(t)}</h3>{table_html(h, r)}" for t, h, r in qkd)}
<p class="note">{html.escape(tables.QKD_NOTE)}</p>
{extra}
<h2>Figures</h2>{figures_html}
<h2>The paper's claims on this machine</h2>{table_html(*comparison)}
<h2>Performance targets</h2>{table_html(*target_table)}
<h2>Metadata</h2><pre>{meta}</pre>""",
        SUMMARY_CSS,
    )
