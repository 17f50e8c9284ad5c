"""What every HTML page of the reports shares: one style, tables, and figures inlined as
data: URIs so that each page is a single self-contained file."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }
th { background: #f0f0f0; } tr:nth-child(even) { background: #fafafa; }
img { max-width: 100%; } .note { color: #555; max-width: 70em; }
.warn { background: #fff3cd; padding: 0.4em 0.8em; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.8em; }
"""


def table_html(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], tones: Sequence[str] = ()
) -> str:
    """A table; ``tones`` gives each row a class (a verdict's colour)."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join(
        (f'<tr class="{tones[i]}">' if tones else "<tr>")
        + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row)
        + "</tr>"
        for i, row in enumerate(rows)
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>{body}</tbody>\n</table>"


def pictures(images: Sequence[Path]) -> str:
    return "".join(
        f'<figure><img alt="{html.escape(p.stem)}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}"></figure>'
        for p in images
    )


def document(title: str, body: str, extra_css: str = "") -> str:
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}{extra_css}</style></head>"
        f"<body>\n<h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )
