"""results -> the report directory: results.json, the summary, then each section's
Markdown (and CSV) and figures, and report.html from the same sections."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dthq.harness.results import Results
from dthq.harness.results_json import dump
from reports import (
    beside_paper,
    chaos,
    device,
    fleet,
    forged_hello,
    gate_power,
    held,
    instructions,
    pipeline,
    policy_sweep,
    primitives,
    qkd,
    scale,
    schemes,
    soak,
    stability,
    store,
    table3,
    table4,
    table5,
    wire,
)
from reports.render.report_page import Drawn, report_html
from reports.render.text import csv_text, machine_line, section_markdown
from reports.section import Section
from reports.summary import Summary
from reports.verdicts import contradictions, register, targets

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
    "contradictions.md",
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
    "gate-error-rates.md",  # from gate-power.json here, else bench/gate/power-measured.json
    "report.html",
)
FLEET_FILES = ("fleet.md", "figure-fleet-capacity.png")  # when the results hold fleets
SWEEP_FILES = ("section71.md", "figure-section71.png")  # when they hold the §7.1 sweep
SOAK_FILES = ("soak.md",)  # when they hold a memory soak
CHAOS_FILES = ("chaos.md",)  # when they hold a fault-suite run
HELD_FILES = ("held.md", "figure-held.png")  # when they hold held-rate searches
SCHEME_FILES = ("schemes.md",)  # when they hold the schemes suite's runs
STORE_FILES = ("store.md",)  # when they hold the store's cost by size
PRIMITIVE_FILES = ("primitives.md",)  # when they hold primitives
STABILITY_FILES = ("stability.md",)  # when any of their figures was assessed

Make = Callable[[Results], Section | None]
# The summary's tables.
VERDICTS: tuple[Make, ...] = (register.section, contradictions.section, targets.section)
# In the page's order; a section that returns None has nothing in this run.
SECTIONS: tuple[Make, ...] = (
    beside_paper.section,
    table3.section,
    table4.section,
    forged_hello.section,
    qkd.section,
    wire.section,
    device.section,
    table5.section,
    primitives.section,
    instructions.section,
    pipeline.section,
    policy_sweep.section,
    soak.section,
    chaos.section,
    scale.section,
    held.section,
    schemes.section,
    store.section,
    fleet.section,
    stability.section,
)


def write_report(results: Results, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    machine = machine_line(results)
    written = [dump(results, out / "results.json")]

    def put(name: str, text: str) -> None:
        (out / name).write_text(text)
        written.append(out / name)

    def drawn(makers: tuple[Make, ...]) -> list[Drawn]:
        found = []
        for make in makers:
            section = make(results)
            if section is None:
                continue
            if section.file:
                put(section.file, section_markdown(section, machine))
            if section.csv:
                put(section.csv, csv_text(section.tables[0]))
            images = [p for f in section.figures if (p := f.draw(results, out / f.name))]
            written.extend(images)
            found.append((section, images))
        return found

    summary = Summary.of(results)
    put("summary.md", summary.markdown())
    verdicts = drawn(VERDICTS)
    # the gate's measured error rates: this directory's gate-power.json, else the reference
    power = (lambda _: gate_power.section(out),)
    put("report.html", report_html(results, summary, verdicts, drawn(SECTIONS + power)))
    return written
