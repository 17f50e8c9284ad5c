"""The twin store's cost against its size: ``Store.put`` of a typical batch on stores
holding 0 to 100 k readings (1 M in the full profile), every size timed in the same
rounds (see dthq.harness.store_cost). The run is one benchmark; its figures are the
StoreCostPoints."""

from __future__ import annotations

from typing import Any

from bench.tags import Suite, tag_figures
from dthq.harness.store_cost import PUTS_PER_ROUND, store_cost


def test_store_put_by_size(benchmark: Any, bench_profile: Any) -> None:
    sizes = bench_profile.store_rows
    points = benchmark.pedantic(
        store_cost, args=(sizes, bench_profile.store_rounds), rounds=1, iterations=1
    )
    tag_figures(benchmark, Suite.STORE, points)
    assert [p.rows for p in points] == list(sizes)
    assert all(p.put_ms.rounds == bench_profile.store_rounds * PUTS_PER_ROUND for p in points)
