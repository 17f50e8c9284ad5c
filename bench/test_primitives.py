"""The floor: each KEM, signature, AEAD and codec alone, on the same payloads the
composite benchmarks use, and the paper's Table 5 terms (dthq.harness.primitive_set).

One benchmark measures them all pyperf's way (dthq.harness.primitive_runs): worker
processes on the bench's CPU, each timing interleaved rounds of every primitive, and
``timeit`` in processes of its own between them, the independent cross-check."""

from __future__ import annotations

from typing import Any

from bench.tags import Suite, tag_figures
from dthq.harness.primitive_runs import Plan, measure
from dthq.harness.primitive_set import primitive_set


def test_primitives(benchmark: Any, bench_profile: Any, bench_progress: Any) -> None:
    specs = primitive_set()
    plan = Plan(
        bench_profile.primitive_workers,
        bench_profile.primitive_rounds,
        bench_profile.primitive_repeat,
    )
    names = [s.name for s in specs]
    measured, absent = benchmark.pedantic(
        measure, args=(names, plan), kwargs={"progress": bench_progress}, rounds=1, iterations=1
    )
    tag_figures(benchmark, Suite.PRIMITIVES, measured)
    reasons = {s.name: s.absent for s in specs}
    for name in absent:
        print(f"{name}: skipped, {reasons[name] or 'its library is absent here'}")
    assert [p.name for p in measured] == [n for n in names if n not in absent]
    assert all(p.time_us.rounds == plan.workers * plan.rounds for p in measured)
