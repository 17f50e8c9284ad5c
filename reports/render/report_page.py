"""report.html: the summary with its verdict tables first, then every section of the
report in turn, each table once and each figure beside its table, then the metadata."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path

from dthq.harness.results import Results
from dthq.harness.results_json import to_dict
from reports.render.page import document, pictures, table_html
from reports.section import Heading, Section, Table, Text
from reports.summary import Summary

SUMMARY_CSS = """
.tiles { display: flex; gap: 1em; flex-wrap: wrap; margin: 1em 0; }
.tile { border-radius: 6px; padding: 0.6em 1em; min-width: 9em; background: #eee; }
.tile b { display: block; font-size: 2em; }
.tile.ok, tr.ok td { background: #d9f0d3; }
.tile.bad, tr.bad td { background: #f6d5d5; }
.tile.grey { background: #eee; }
"""

Drawn = tuple[Section, Sequence[Path]]  # a section and the figures it drew


def _block(block: Heading | Table | Text, level: int) -> str:
    if isinstance(block, Heading):
        return f"<h{level + 1}>{html.escape(block.text)}</h{level + 1}>"
    if isinstance(block, Table):
        return table_html(block.headers, block.rows, block.tones)
    if not block.in_html:
        return ""
    if block.bullets:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in block.lines)
        return f'<ul class="note">{items}</ul>'
    return "".join(f'<p class="note">{html.escape(line)}</p>' for line in block.lines)


def section_html(drawn: Drawn, level: int = 2) -> str:
    section, images = drawn
    title = f"<h{level}>{html.escape(section.page_title)}</h{level}>"
    return title + "".join(_block(b, level) for b in section.blocks) + pictures(images)


def summary_html(summary: Summary, verdicts: Sequence[Drawn]) -> str:
    tiles = "".join(
        f'<div class="tile {tone}"><b>{count}</b>{html.escape(label)}</div>'
        for count, label, tone in summary.tiles()
    )
    return (
        f'<section id="summary"><h2>Summary</h2><p>{html.escape(summary.context())}</p>'
        f'<div class="tiles">{tiles}</div><p><b>{html.escape(summary.headline())}</b></p>'
        + "".join(section_html(v, level=3) for v in verdicts)
        + "</section>"
    )


def report_html(
    results: Results, summary: Summary, verdicts: Sequence[Drawn], sections: Sequence[Drawn]
) -> str:
    meta = html.escape(json.dumps(to_dict(results)["metadata"], indent=1))
    body = "\n".join(section_html(s) for s in sections)
    return document(
        "DTHQ bench report",
        f"<p>Generated {html.escape(results.created)} by {html.escape(results.generator)}.</p>\n"
        f"{summary_html(summary, verdicts)}\n{body}\n<h2>Metadata</h2><pre>{meta}</pre>",
        SUMMARY_CSS,
    )
