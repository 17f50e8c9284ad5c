"""How a command prints its answer: one JSON line, a table, or a key/value block, and the
progress bar of a long run (on a terminal only, never beside JSON)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from bench.gate.compare import GateReport


@contextmanager
def until_stopped(what: str) -> Iterator[None]:
    """A server's lifetime: Ctrl-C (SIGINT) is how it is meant to end, whenever it comes
    (starting up or serving), so it exits 0 (README, exit codes); a run stopped by
    Ctrl-C exits 3."""
    with suppress(KeyboardInterrupt):
        yield
    click.echo(f"{what} stopped", err=True)


def json_text(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, indent=indent)


def emit_json(value: Any, indent: int | None = None) -> None:
    click.echo(json_text(value, indent))


@dataclass(frozen=True)
class Written:
    """What a command that writes a report wrote: its files, and the page to open."""

    out: Path
    files: Sequence[Path]
    page: Path
    facts: Mapping[str, Any] = field(default_factory=dict)  # the command's own figures

    def to_json(self) -> dict[str, Any]:
        files = [str(f) for f in self.files]
        return {"out": str(self.out), "files": files, "open": str(self.page), **self.facts}


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    from tabulate import tabulate

    return tabulate(rows, headers=headers)


def key_values(block: Mapping[str, Any], skip: Sequence[str] = ()) -> None:
    for key, value in block.items():
        if key not in skip:
            click.echo(f"{key:22} {value}")


def summary(lines: Sequence[str], rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    """A run's summary lines, then its table."""
    for line in lines:
        click.echo(line)
    click.echo()
    click.echo(table(rows, headers))


def listing(registries: Sequence[Any], as_json: bool) -> None:
    """Every entry of the registries: its kind, name, backend, and why it is unavailable."""
    rows = [
        {
            "kind": registry.kind,
            "name": e.name,
            "backend": e.backend,
            "available": e.available,
            "reason": e.reason,
        }
        for registry in registries
        for e in registry.entries()
    ]
    if as_json:
        emit_json(rows)
        return
    cells = [
        [r["kind"], r["name"], r["backend"], "yes" if r["available"] else "no", r["reason"]]
        for r in rows
    ]
    click.echo(table(cells, ["kind", "name", "backend", "available", "reason"]))


def gate_report(gate: GateReport, show: str, note: str | None) -> None:
    """The gate's table (figures that moved, or all), its warnings and its summary."""
    from bench.gate.compare import Verdict

    shown = [c for c in gate.changes if show == "all" or c.verdict != Verdict.NOT_SIGNIFICANT]
    if shown:
        unit = "{:,.0f}" if gate.metric == "instructions" else "{:.4g}"
        rows = [
            [
                c.figure,
                unit.format(c.baseline),
                unit.format(c.current),
                f"{c.ratio:.3f}",
                f"{c.noise:.1%}",
                *([] if gate.alpha is None else [f"{c.p_value:.2g}"]),
                c.verdict if c.gated else f"{c.verdict} (not gated)",
                c.tripped or "-",
            ]
            for c in shown
        ]
        ratio = "normalised ratio" if gate.normalised else "ratio"
        p = [] if gate.alpha is None else ["p (slower)"]
        headers = ["figure", "baseline", "current", ratio, "noise", *p, "verdict", "limit tripped"]
        click.echo(table(rows, headers))
    for warning in gate.warnings:
        click.echo(f"warning: {warning}", err=True)
    if note:
        click.echo(note)
    click.echo(f"{gate.metric}: {gate.summary()}")


@contextmanager
def progress(what: str, quiet: bool, *, sent: bool = False) -> Iterator[Callable[..., None]]:
    """A transient bar on stderr; the callable it yields takes (fraction done, detail):
    the count sent so far with ``sent``, else the current step's description."""
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("[progress.description]{task.description}"), BarColumn()]
    columns += (
        [TextColumn("{task.fields[sent]} sent"), TimeRemainingColumn()]
        if sent
        else [TimeElapsedColumn()]
    )
    with Progress(*columns, disable=quiet or not sys.stderr.isatty(), transient=True) as bar:
        task = bar.add_task(what, total=1.0, sent=0)
        if sent:
            yield lambda done, count: bar.update(task, completed=done, sent=count)
        else:
            yield lambda done, step: bar.update(task, completed=done, description=step)
