"""Which figures of a run are unstable, and the report's Stability section listing them.

A figure is every :class:`~dthq.harness.results.Distribution` in the results, found by
walking the model: a primitive's time, a Table 3 row's or Table 4 cell's metric, a bulk
run's time, and so on. Its name says where it is (``primitive kem/ML-KEM-768/keygen``,
``table3 dthq-mlkem768-psk handshake_ms``). Distributions never assessed (a file older
than schema 13, a pipeline run's per-reading latencies) are neither stable nor unstable;
a target judged on an unstable figure says so instead of met or missed.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterator, Mapping
from typing import Any

from dthq.harness.paired import reassessed
from dthq.harness.results import Distribution, Results
from dthq.harness.stability import CV_LIMIT, EXTREME, SHORTEST_RAW_S
from reports.section import Section, Table, Text

# Sections whose items are named in a figure's name by this attribute.
_ITEM_NAME = ("name", "key")


def figures(results: Results) -> Iterator[tuple[str, Distribution]]:
    """(name, distribution) of every figure in the results, in the model's order."""
    for f in dataclasses.fields(results):
        yield from _walk(getattr(results, f.name), _label(f.name))


def _label(section: str) -> str:
    return {"primitives": "primitive"}.get(section, section)


def _walk(value: Any, where: str) -> Iterator[tuple[str, Distribution]]:
    if isinstance(value, Distribution):
        yield where, value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if f.name in _ITEM_NAME:
                continue
            yield from _walk(getattr(value, f.name), _join(where, f.name, value))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            label = key.value if isinstance(key, enum.Enum) else str(key)
            yield from _walk(item, f"{where} {label}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _walk(item, f"{where} {_item(item, i)}")


def _item(item: Any, index: int) -> str:
    for attr in _ITEM_NAME:
        name = getattr(item, attr, None)
        if isinstance(name, str):
            return name
    return f"[{index}]"


def _join(where: str, field: str, owner: Any) -> str:
    # A row's timings are named by metric alone; a primitive's one time by nothing more.
    if field in ("timings", "time_us") and hasattr(owner, field):
        return where
    return f"{where} {field}"


def unstable(results: Results) -> dict[str, tuple[str, ...]]:
    """Every unstable figure of the run, by name, with its warnings: the distributions'
    and the paired ratios' (whose stability is the ratio's, not either side's)."""
    found = {name: d.warnings for name, d in figures(results) if d.warnings}
    for p in results.paired:  # recomputed from its rounds, as targets.md judges it
        if warned := reassessed(p)[1].warnings:
            found[f"paired {p.figure}"] = warned
    return found


def assessed(results: Results) -> int:
    return sum(d.warnings is not None for _, d in figures(results)) + len(results.paired)


CHECKS = (
    f"A figure is unstable when pyperf's checks find its standard deviation "
    f"{CV_LIMIT:.0%} of its mean or more, its minimum or maximum {EXTREME:.0%} or more off "
    "the mean, or "
    f"its shortest raw value (one timed round, all its calls) under {SHORTEST_RAW_S * 1e3:g} "
    "ms. Its values, each a mean as pyperf's are (so a preempted round shows): for a "
    "primitive, the means of blocks of each worker process's rounds; for a "
    "pytest-benchmark figure (Table 3, Table 4, bulk, ...) or a paired ratio, the means of "
    "ten blocks of its rounds in the order they ran. Not assessed: a pipeline run's "
    "per-reading latencies (not repeated rounds) and the other distributions a suite "
    "summarises itself (the store's puts, a fleet's or soak's figures). Tables mark an "
    "unstable figure '(unstable)'; a target judged on one says 'unstable'."
)


def section(results: Results) -> Section | None:
    """None when the run's figures were never assessed (an older file)."""
    count = assessed(results)
    if not count:
        return None
    found = unstable(results)
    lead = (
        f"{len(found)} of {count} assessed figures are unstable."
        if found
        else f"All {count} assessed figures are stable."
    )
    blocks: list[Any] = [Text([lead, CHECKS])]
    if found:
        rows = [[name, "; ".join(w)] for name, w in found.items()]
        blocks.insert(1, Table(["Figure", "Warnings"], rows))
    return Section("Stability", blocks, file="stability.md")
