"""Markdown and CSV: numbers as the tables print them, and a section as its file."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from dthq.harness.results import Distribution, Results
from reports.section import Heading, Section, Table, Text


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return (
        f"{value:.{digits}g}" if abs(value) < 1 else f"{value:.{digits}f}".rstrip("0").rstrip(".")
    )


def ms(value: float | None) -> str:
    """Milliseconds: three decimals below 10 ms, one above."""
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


UNSTABLE = " (unstable)"  # after a figure that failed a stability check


def spread(t: Distribution | None) -> str:
    """A median with its interquartile range, where the run kept quartiles, marked when
    the figure is unstable (the report's Stability section says why)."""
    if t is None:
        return "-"
    mark = UNSTABLE if t.stable is False else ""
    if t.q1 is None or t.q3 is None:
        return fmt(t.median) + mark
    return f"{fmt(t.median)} [{fmt(t.q1)}, {fmt(t.q3)}]{mark}"


def markdown(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    return tabulate(rows, headers=list(headers), tablefmt="github", disable_numparse=True)


def csv_text(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.headers)
    writer.writerows(table.rows)
    return out.getvalue()


def machine_line(results: Results) -> str:
    meta = results.metadata
    m = meta.machine
    openssl = (m.get("openssl") or {}).get("cryptography")
    return (
        f"{m.get('cpu_model')} ({m.get('cpu_count')} cores), {m.get('os')}, "
        f"Python {m.get('python')}, {openssl}, profile {meta.profile} "
        f"(M = {meta.messages_per_session})"
    )


def _block(block: Heading | Table | Text) -> str:
    if isinstance(block, Heading):
        return f"## {block.text}"
    if isinstance(block, Table):
        return markdown(block.headers, block.rows)
    if block.bullets:
        return "\n".join(f"- {line}" for line in block.lines)
    return "\n\n".join(block.lines)


def section_markdown(section: Section, machine: str) -> str:
    body = "\n\n".join(_block(b) for b in section.blocks)
    return f"# {section.title}\n\nMachine: {machine}\n\n{body}\n"
