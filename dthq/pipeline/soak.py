"""The memory soak: the real pipeline (:class:`~dthq.pipeline.run.Pipeline` on the
memory bus) driven as fast as it takes readings, the process's RSS sampled as it goes,
and whether it stayed flat.

Flat means: after the warm-up (the twins' histories, the collector's windows and the
store's page cache fill, all bounded), RSS grows by at most ``FLAT_BYTES_PER_READING``
per reading, least squares over the samples. That is 1/16 of what each reading's trace
cost when traces were kept (about 0.5 KB).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack

from dthq.errors import UnsupportedError
from dthq.harness.results import RSSSample, SoakRun
from dthq.pipeline.clock import SYSTEM_CLOCK, Clock
from dthq.pipeline.run import Pipeline, SimConfig

FLAT_BYTES_PER_READING = 32.0
SAMPLE_DRAIN_S = 300.0
STATM = "/proc/self/statm"


def rss_bytes() -> int:
    """This process's resident set now (Linux: the second field of /proc/self/statm)."""
    try:
        with open(STATM) as f:
            pages = int(f.read().split()[1])
    except OSError:
        raise UnsupportedError(f"the soak reads RSS from {STATM} (Linux only)") from None
    return pages * os.sysconf("SC_PAGE_SIZE")


def slope(samples: Sequence[RSSSample], warmup_readings: int) -> float:
    """Bytes per reading: the least-squares slope of RSS over the samples taken at or
    after ``warmup_readings`` (at least two of them)."""
    after = [s for s in samples if s.readings >= warmup_readings]
    if len(after) < 2:
        raise ValueError(f"fewer than 2 samples at or after {warmup_readings} readings")
    n = len(after)
    mean_x = sum(s.readings for s in after) / n
    mean_y = sum(s.rss_bytes for s in after) / n
    var = sum((s.readings - mean_x) ** 2 for s in after)
    if var == 0:
        raise ValueError("the samples after the warm-up are all at one reading count")
    return sum((s.readings - mean_x) * (s.rss_bytes - mean_y) for s in after) / var


def soak(
    readings: int,
    patients: int,
    warmup_readings: int,
    samples: int = 20,
    *,
    policy: str = "fixed",
    clock: Clock = SYSTEM_CLOCK,
    rss: Callable[[], int] = rss_bytes,
) -> SoakRun:
    """Send ``readings`` round robin over ``patients`` devices, as fast as the bounded
    memory bus takes them; every ``readings / samples`` readings wait until all have
    settled and take RSS."""
    if not 0 <= warmup_readings < readings or samples < 2:
        raise UnsupportedError("a soak needs a warm-up below its readings and 2+ samples")
    config = SimConfig(
        patients=patients,
        rate_hz=100,  # the readings' simulated step: 10 ms
        duration_s=86_400,  # unused: the soak paces itself
        transport="memory",
        policy=policy,
        onset_s=1.0,  # of the readings' time: alerts flow through the run too
        deterioration_speed=1.0,
        # The devices fill the bounded bus in a burst between samples: the pipeline is
        # given what it takes to catch up (at least 10,000 queued messages at its rate).
        drain_s=SAMPLE_DRAIN_S,
    )
    every = readings // samples
    taken: list[RSSSample] = []
    start = time.perf_counter()
    with ExitStack() as stack:
        p = Pipeline(config, stack, clock)
        taken.append(RSSSample(0, rss()))
        for n in range(1, readings + 1):
            p.devices[n % patients].tick()
            if n % every == 0 or n == readings:
                p.drain()
                taken.append(RSSSample(n, rss()))
        m = p.metrics
        delivered, _ = m.settled()
        sent = m.counts["sent"]
        counts = {
            "sent": sent,
            "delivered": m.delivered,
            "lost": sent - delivered,
            "evicted": m.evicted,
        }
    return SoakRun(
        transport="memory",
        policy=policy,
        patients=patients,
        readings=readings,
        warmup_readings=warmup_readings,
        samples=tuple(taken),
        slope_bytes_per_reading=slope(taken, warmup_readings),
        limit_bytes_per_reading=FLAT_BYTES_PER_READING,
        counts=counts,
        wall_s=time.perf_counter() - start,
    )
