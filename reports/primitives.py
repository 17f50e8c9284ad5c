"""The primitives in the report: each one's median, its stability and its ``timeit``
cross-check, flagged where the figure is unstable."""

from __future__ import annotations

from dthq.harness.results import Primitive, Results
from reports.render.text import fmt
from reports.section import Column, Section, Table, noted


def deviation(p: Primitive) -> float | None:
    """|harness median / timeit median - 1|, where the run cross-checked it."""
    return abs(p.time_us.median / p.timeit_median_us - 1) if p.timeit_median_us else None


def fastest_deviation(p: Primitive) -> float | None:
    """|harness fastest round / timeit's fastest - 1|, where the run has both."""
    if not (p.timeit_min_us and p.time_us.min):
        return None
    return abs(p.time_us.min / p.timeit_min_us - 1)


def _cv(p: Primitive) -> str:
    return "-" if p.time_us.cv is None else f"{p.time_us.cv:.1%}"


def _flag(p: Primitive) -> str:
    stable = p.time_us.stable
    return {None: "not assessed", True: "stable", False: "UNSTABLE"}[stable]


def _deviation_text(p: Primitive) -> str:
    found = deviation(p)
    return "-" if found is None else f"{found:.1%}"


COLUMNS: tuple[Column[Primitive], ...] = (
    Column("Primitive", lambda p: p.name),
    Column("Median us", lambda p: fmt(p.time_us.median)),
    Column("IQR us", lambda p: fmt(p.time_us.iqr)),
    Column("CV", _cv),
    Column("timeit median us", lambda p: fmt(p.timeit_median_us)),
    Column("vs timeit", _deviation_text),
    Column("Rounds", lambda p: p.time_us.rounds),
    Column("Stability", _flag),
)

NOTE = (
    "Each primitive alone, on the payloads the composite benchmarks use. Measured pyperf's "
    "way: worker processes on the bench's CPU, each timing interleaved rounds of every "
    "primitive (rounds of at least 2.5 ms); 'timeit median' is the standard library's "
    "timeit of the same call in processes of its own, alternating with the workers. "
    "CV: the standard deviation over the mean of the workers' block means. 'vs timeit': "
    "|median / timeit median - 1| (the target is 10 %). UNSTABLE: see the Stability section."
)


def section(results: Results) -> Section | None:
    if not results.primitives:
        return None
    return Section(
        "Primitives (the floor)", noted(Table.of(COLUMNS, results.primitives), NOTE),
        file="primitives.md",
    )  # fmt: skip
