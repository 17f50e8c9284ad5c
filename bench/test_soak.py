"""Memory over a long run: the real pipeline on the memory bus, the devices driven as
fast as it takes readings (10^6 in the full profile), RSS sampled with nothing in
flight. The run is one benchmark; its figures are the SoakRun (see dthq.pipeline.soak
for what "flat" means)."""

from __future__ import annotations

from typing import Any

from bench.tags import Suite, tag_figures
from dthq.pipeline.soak import soak


def test_memory_soak(benchmark: Any, bench_profile: Any) -> None:
    run = benchmark.pedantic(
        soak,
        args=(bench_profile.soak_readings, bench_profile.soak_patients, bench_profile.soak_warmup),
        rounds=1,
        iterations=1,
    )
    tag_figures(benchmark, Suite.SOAK, run)
    assert run.counts["lost"] == 0 and run.counts["delivered"] == run.readings
