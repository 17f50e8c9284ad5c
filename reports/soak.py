"""The memory soak in the report: RSS against readings through the memory bus, the
slope after the warm-up in bytes per reading, and whether that is flat."""

from __future__ import annotations

from dthq.harness.results import Results, SoakRun
from reports.section import Block, Heading, Section, Table, Text

MB = 1 << 20
SAMPLE_HEADERS = ["readings", "RSS MiB", "after warm-up"]
NOTE = (
    "Measured: the real pipeline (devices, gateway, cloud twin, FHIR, the encrypted store) "
    "in one process on the memory bus, the devices driven as fast as the bus takes readings, "
    "RSS read from /proc/self/statm with nothing in flight. Flat: RSS grows by at most the "
    "limit per reading after the warm-up (least-squares slope), 1/16 of the ~512 B each "
    "reading's trace cost when traces were kept."
)


def verdict(run: SoakRun) -> str:
    word = "flat" if run.flat else "NOT flat"
    c = run.counts
    return (
        f"{run.readings:,} readings over {run.patients} devices ({run.policy} policy) in "
        f"{run.wall_s:.0f} s: {run.slope_bytes_per_reading:.1f} B/reading after "
        f"{run.warmup_readings:,}, {word} (limit {run.limit_bytes_per_reading:g} B/reading); "
        f"delivered {c.get('delivered', 0):,}, lost {c.get('lost', 0):,}, "
        f"traces evicted in flight {c.get('evicted', 0):,}"
    )


def sample_rows(run: SoakRun) -> list[list[object]]:
    return [
        [
            f"{s.readings:,}",
            f"{s.rss_bytes / MB:.1f}",
            "yes" if s.readings >= run.warmup_readings else "",
        ]
        for s in run.samples
    ]


def section(results: Results) -> Section | None:
    if not results.soak:
        return None
    blocks: list[Block] = [Heading("Memory over a long run (the soak)")]
    blocks.append(Text([verdict(r) for r in results.soak], bullets=True))
    for run in results.soak:
        blocks.append(Table(SAMPLE_HEADERS, sample_rows(run)))
    blocks.append(Text([NOTE]))
    return Section("Memory over a long run", blocks, "soak.md")
