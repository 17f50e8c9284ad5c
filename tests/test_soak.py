"""The soak's criterion on fixed RSS samples, and a short soak through the real pipeline."""

from __future__ import annotations

import itertools

import pytest

from dthq.errors import UnsupportedError
from dthq.harness.results import RSSSample, SoakRun
from dthq.pipeline.soak import FLAT_BYTES_PER_READING, slope, soak

MB = 1 << 20


def _samples(warm: int, per_reading_after: float) -> list[RSSSample]:
    """512 B a reading up to ``warm`` (the old traces' cost), then the given slope."""
    out = []
    for n in range(0, 100_001, 10_000):
        grown = min(n, warm) * 512 + max(0, n - warm) * per_reading_after
        out.append(RSSSample(n, 80 * MB + round(grown)))
    return out


def _run(samples: list[RSSSample], warm: int) -> SoakRun:
    return SoakRun(
        transport="memory", policy="fixed", patients=1, readings=100_000,
        warmup_readings=warm, samples=tuple(samples),
        slope_bytes_per_reading=slope(samples, warm),
        limit_bytes_per_reading=FLAT_BYTES_PER_READING, counts={}, wall_s=1.0,
    )  # fmt: skip


def test_the_slope_is_taken_after_the_warm_up_only() -> None:
    samples = _samples(20_000, 10)  # taken every 10,000 readings
    assert slope(samples, 20_000) == pytest.approx(10.0)
    assert slope(samples, 10_001) == pytest.approx(10.0)  # the sample at 10,000 left out
    assert slope(samples, 10_000) > 10.5  # at it: counted, and it bends the line
    assert slope(samples, 0) == pytest.approx(73.8909, abs=1e-4)  # warm-up counted: not flat


def test_flat_is_at_most_32_bytes_a_reading() -> None:
    assert FLAT_BYTES_PER_READING == 32
    assert _run(_samples(20_000, 32), 20_000).flat  # at the limit
    assert not _run(_samples(20_000, 33), 20_000).flat  # one past it
    assert not _run(_samples(100_000, 0), 0).flat  # the old traces: 512 B a reading
    flat = [
        RSSSample(n, 90 * MB + (4096 if i % 2 else 0)) for i, n in enumerate(range(0, 10**6, 10**5))
    ]
    assert _run(flat, 0).flat  # a page up and down is noise, not growth


def test_too_few_samples_after_the_warm_up_have_no_slope() -> None:
    with pytest.raises(ValueError, match="fewer than 2 samples"):
        slope(_samples(20_000, 10), 100_000)
    with pytest.raises(ValueError, match="one reading count"):
        slope([RSSSample(5, 1), RSSSample(5, 2)], 0)


def test_a_short_soak_through_the_pipeline_settles_everything_and_samples_rss() -> None:
    fake = itertools.count(MB, 4096)  # a fixed RSS series: 4 KiB more per sample
    run = soak(600, 3, 200, samples=3, rss=lambda: next(fake))
    assert [s.readings for s in run.samples] == [0, 200, 400, 600]
    assert [s.rss_bytes for s in run.samples] == [MB, MB + 4096, MB + 8192, MB + 12288]
    assert run.slope_bytes_per_reading == pytest.approx(4096 / 200)
    assert run.counts == {"sent": 600, "delivered": 600, "lost": 0, "evicted": 0}
    assert run.flat and run.patients == 3 and run.transport == "memory"


def test_a_soak_needs_its_warm_up_below_its_readings() -> None:
    with pytest.raises(UnsupportedError, match="warm-up below"):
        soak(100, 1, 100)


def test_the_report_says_the_slope_the_verdict_and_the_samples() -> None:
    from dthq.harness.results import Metadata, Results
    from reports import soak as report

    run = _run(_samples(20_000, 33), 20_000)
    run = SoakRun(**{**run.__dict__, "counts": {"delivered": 100_000, "lost": 0, "evicted": 0}})
    meta = Metadata(profile="quick", messages_per_session=100, machine={})
    assert report.section(Results(metadata=meta)) is None
    section = report.section(Results(metadata=meta, soak=(run,)))
    assert section is not None and section.file == "soak.md"
    assert report.verdict(run) == (
        "100,000 readings over 1 devices (fixed policy) in 1 s: 33.0 B/reading after 20,000, "
        "NOT flat (limit 32 B/reading); delivered 100,000, lost 0, traces evicted in flight 0"
    )
    rows = section.tables[0].rows
    assert rows[2] == ["20,000", "89.8", "yes"] and rows[1] == ["10,000", "84.9", ""]
