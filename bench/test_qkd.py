"""The SIMULATED QKD path: secret key rate against QBER and fibre length (drawn beside
theory in the report), the cost of one 128/256/512-bit key, and Cascade alone on
10,000-bit keys (beside cascade-python's published figures). No photons: every figure
but the times is the simulation's."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bench.tags import Suite, tag, tag_figures
from dthq.harness import scenarios
from dthq.harness.qkdsweep import cascade_input, smallest_run, sweep_point
from dthq.qkd.bb84 import QuantumChannel
from dthq.qkd.cascade import efficiency, reconcile
from dthq.qkd.link import KEY_BITS, distil


def test_qkd_rate_vs_qber(benchmark: Any, bench_profile: Any) -> None:
    def sweep() -> list[Any]:
        return [
            sweep_point("qber", QuantumChannel(qber=q), bench_profile.qkd_sifted_bits, seed=i)
            for i, q in enumerate(scenarios.QKD_QBERS)
        ]

    points = benchmark.pedantic(sweep, rounds=1, iterations=1)
    tag_figures(benchmark, Suite.QKD_SWEEP, points)
    assert points[0].net_bits > 0 and points[-1].net_bits == 0  # 0 % gives keys, 11 % none


def test_qkd_rate_vs_fibre(benchmark: Any, bench_profile: Any) -> None:
    def sweep() -> list[Any]:
        return [
            sweep_point(
                "fibre",
                QuantumChannel(qber=scenarios.QKD_FIBRE_QBER, fibre_km=km),
                bench_profile.qkd_sifted_bits,
                seed=100 + i,
            )
            for i, km in enumerate(scenarios.QKD_FIBRE_KM)
        ]

    points = benchmark.pedantic(sweep, rounds=1, iterations=1)
    tag_figures(benchmark, Suite.QKD_SWEEP, points)
    assert all(p.net_bits > 0 for p in points)


@pytest.mark.parametrize("key_bits", KEY_BITS)
def test_qkd_one_key(benchmark: Any, key_bits: int) -> None:
    """The smallest run (raw pulses doubled from 5,000) that yields one key of this size."""
    raw, run = smallest_run(key_bits, scenarios.QKD_KEY_QBER, seed=key_bits)
    channel = QuantumChannel(qber=scenarios.QKD_KEY_QBER)
    tag(
        benchmark,
        Suite.QKD_KEY,
        key_bits=key_bits,
        qber=scenarios.QKD_KEY_QBER,
        raw_pulses=raw,
        rounds=run.rounds,
        keys=len(run.keys),
    )
    timed = benchmark(lambda: distil(raw, channel, key_bits=key_bits, seed=key_bits))
    assert timed.keys == run.keys  # seeded: the timed runs are the run described


@pytest.mark.parametrize("schedule", ["optimised", "original"])
@pytest.mark.parametrize("qber", scenarios.CASCADE_QBERS)
def test_cascade_10k(benchmark: Any, bench_profile: Any, qber: float, schedule: str) -> None:
    """One instance timed; f over many (a single 10,000-bit run's f swings by +-0.05)."""
    bits = scenarios.CASCADE_BITS
    efficiencies = []
    for seed in range(bench_profile.cascade_runs):
        alice, bob = cascade_input(bits, qber, seed)
        result = reconcile(alice, bob, qber, np.random.default_rng(seed), schedule=schedule)
        assert np.array_equal(result.corrected, alice)
        efficiencies.append(efficiency(result.leaked_bits, bits, qber))
    alice, bob = cascade_input(bits, qber, seed=0)
    result = reconcile(alice, bob, qber, np.random.default_rng(0), schedule=schedule)
    tag(
        benchmark,
        Suite.CASCADE,
        schedule=schedule,
        bits=bits,
        qber=qber,
        efficiencies=efficiencies,
        rounds=result.rounds,
        block_sizes=result.block_sizes,
    )
    benchmark(lambda: reconcile(alice, bob, qber, np.random.default_rng(0), schedule=schedule))
