"""What a subject of the report hands the renderers: a Section of titled blocks (tables,
headings, notes) and the figures it draws. The Markdown file, the CSV and report.html
are all rendered from it, so a table is written once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from dthq.harness.results import Results


@dataclass(frozen=True)
class Heading:
    text: str  # a sub-heading inside the section


T = TypeVar("T")


@dataclass(frozen=True)
class Column(Generic[T]):
    """A header beside the value it heads, so that the two cannot drift apart."""

    header: str
    value: Callable[[T], Any]


@dataclass(frozen=True)
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]
    tones: Sequence[str] = ()  # a CSS class per row (a verdict's colour), HTML only

    @classmethod
    def of(cls, columns: Sequence[Column[T]], items: Iterable[T]) -> Table:
        return cls([c.header for c in columns], [[c.value(i) for c in columns] for i in items])


@dataclass(frozen=True)
class Text:
    lines: Sequence[str]
    bullets: bool = False  # a list, rather than paragraphs
    in_html: bool = True  # False for Markdown prose the page does not repeat


Block = Heading | Table | Text


@dataclass(frozen=True)
class Figure:
    name: str  # its file in the report directory
    draw: Callable[[Results, Path], Path | None]  # None when the run has nothing to plot


@dataclass(frozen=True)
class Section:
    title: str  # the Markdown file's heading, and the page's unless ``heading`` is set
    blocks: Sequence[Block] = ()
    file: str | None = None  # the Markdown file it is written to, if any
    csv: str | None = None  # the CSV file of its (only) table, if any
    heading: str | None = None
    figures: Sequence[Figure] = ()

    @property
    def page_title(self) -> str:
        return self.heading or self.title

    @property
    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]


def noted(table: Table, note: str) -> list[Block]:
    """The common body of a section: one table and the note under it."""
    return [table, Text([note])]
