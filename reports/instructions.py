"""Instructions per operation, counted by callgrind: the figures the gate compares."""

from __future__ import annotations

from typing import Any

from dthq.harness.results import Results
from reports.section import Section, Table, noted

INSTRUCTION_HEADERS = ["Figure", "Instructions per operation", "N", "Gated"]
INSTRUCTION_NOTE = (
    "Counted by callgrind (valgrind), not timed: (I(2N) - I(N)) / N between markers, "
    "PYTHONHASHSEED fixed; repeatable to about 0.2 % whatever else the machine does. "
    "handshake/ is one complete handshake (both parties), record/ one seal + open of the "
    "cell's reading with its edge's codec, pipeline/ one reading from each of 64 devices "
    "through the in-memory pipeline to the store (with the real metrics, and with none: "
    'the target "metrics cost per reading"). Randomised rows (hedged ML-DSA signing) are '
    "reported, never gated. `dthq compare --against REV` gates on these figures."
)


def instruction_rows(results: Results) -> list[list[Any]]:
    return [
        [c.figure, f"{c.per_op:,.0f}", c.n, "no (randomised)" if c.randomised else "yes"]
        for c in results.instructions
    ]


def section(results: Results) -> Section | None:
    if not results.instructions:
        return None
    title = f"Instructions per operation (callgrind, {results.metadata.valgrind})"
    body = noted(Table(INSTRUCTION_HEADERS, instruction_rows(results)), INSTRUCTION_NOTE)
    return Section(title, body, "instructions.md")
