"""The twin store's cost by size in the report: ``Store.put`` of one typical batch at
each row count, and how much the largest costs over the smallest (the target is at
most 1.2x: a store whose cost does not grow with what it holds)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from dthq.harness.bootstrap import MIN_INTERVAL_VALUES, paired_ratios
from dthq.harness.paired import assess
from dthq.harness.results import Results, StoreCostPoint
from reports.section import Column, Heading, Section, Table, Text
from reports.verdicts.target_reading import WORDS, Reading, bootstrap_basis, judge, too_few

GROWTH_LIMIT = 1.2
NOTE = (
    "Measured: Store.put (one SQLite transaction with synchronous=FULL, then the completeness "
    "head's atomic write) of a batch of readings, one per patient, with the gateway's session "
    "state, as the cloud writes it with no FHIR destination (no outbox bundle). Each size is "
    "its own store, filled through put in 10,000-reading batches; every size is timed in the "
    "same rounds, a few puts at each in turn, so the ratio is taken under one load. A shared "
    "machine's fsync makes the p99 noisy; the target is judged on the medians."
)
COLUMNS: tuple[Column[StoreCostPoint], ...] = (
    Column("rows held", lambda p: f"{p.rows:,}"),
    Column("put ms (median)", lambda p: f"{p.put_ms.median:.3f}"),
    Column("put ms (p99)", lambda p: "-" if p.put_ms.p99 is None else f"{p.put_ms.p99:.3f}"),
    Column("CPU ms (median)", lambda p: f"{p.cpu_ms.median:.3f}"),
    Column("puts timed", lambda p: p.put_ms.rounds),
)


def ends(points: Sequence[StoreCostPoint]) -> tuple[StoreCostPoint, StoreCostPoint] | None:
    """The smallest and the largest size measured (None: fewer than two sizes)."""
    if len({p.rows for p in points}) < 2:
        return None
    ordered = sorted(points, key=lambda p: p.rows)
    return ordered[0], ordered[-1]


def _paired(small: StoreCostPoint, large: StoreCostPoint) -> list[float] | None:
    """The per-round ratios of the two sizes, where the run kept their rounds (the
    reader has checked both kept as many)."""
    if small.round_ms and large.round_ms:
        return paired_ratios(large.round_ms, small.round_ms)
    return None


def growth_reading(points: Sequence[StoreCostPoint]) -> Reading | None:
    """The largest size's put over the smallest's, as its target reads it: the median of
    their per-round ratios with its interval and stability where the run kept its rounds
    (under MIN_INTERVAL_VALUES of them, too few to judge: unstable); else the ratio of
    their medians, with no interval."""
    found = ends(points)
    if found is None:
        return None
    small, large = found
    ratios = _paired(small, large)
    if ratios is None:
        value = large.put_ms.median / small.put_ms.median
        return Reading(value, None, "no interval: this run kept no rounds; the medians' ratio")
    value = statistics.median(ratios)
    if len(ratios) < MIN_INTERVAL_VALUES:
        return too_few(value, len(ratios), "paired rounds")
    interval, stability = assess(ratios, None)  # as the paired suite's ratios are judged
    basis = bootstrap_basis(interval, f"{len(ratios)} paired rounds")
    return Reading(value, interval, basis, stability.warnings)


def verdict(points: Sequence[StoreCostPoint]) -> str:
    found, reading = ends(points), growth_reading(points)
    if found is None or reading is None:
        return "one size only: no growth to judge"
    small, large = found
    band = reading.interval
    interval = "" if band is None else f" [{band.low:.2f}, {band.high:.2f}]"
    word = WORDS[judge(reading, GROWTH_LIMIT)]
    cpu = "-" if small.cpu_ms.median <= 0 else f"{large.cpu_ms.median / small.cpu_ms.median:.2f}x"
    return (
        f"a {large.batch}-reading batch over {large.patients} patients: "
        f"{large.put_ms.median:.3f} ms at {large.rows:,} rows, {small.put_ms.median:.3f} ms at "
        f"{small.rows:,}: {reading.value:.2f}x{interval}, {word} against the target "
        f"(at most {GROWTH_LIMIT:g}x, judged as in targets.md); its CPU time "
        f"{cpu}"
    )


def section(results: Results) -> Section | None:
    if not results.store:
        return None
    return Section(
        "The store's cost by size",
        [
            Heading("Store.put against the rows the store holds"),
            Text([verdict(results.store)], bullets=True),
            Table.of(COLUMNS, sorted(results.store, key=lambda p: p.rows)),
            Text([NOTE]),
        ],
        "store.md",
    )
