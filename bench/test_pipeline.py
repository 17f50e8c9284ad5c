"""The twin pipeline through real brokers (the embedded amqtt and Mosquitto, loopback),
every run with each party its own process and the load generator on a core of its own
(see dthq.pipeline.processes): throughput and end to end latency at each load, the
comparison of a twin-driven adaptive gateway against a fixed one, same load, and the
paper's §7.1 as it ran it:
without the twin, fixed and adaptive at each message size of Fig. 4 (Mosquitto, which
takes 100 MB messages). Each benchmark is one run; its figures are the run's own (see
PipelineRun)."""

from __future__ import annotations

from typing import Any

import pytest

from bench.tags import Suite, tag_figures
from dthq.harness import scenarios
from dthq.harness.placement import split_if_possible
from dthq.harness.results import PolicyPoint
from dthq.pipeline.run import SimConfig, simulate

BROKERS = [
    pytest.param(b, marks=pytest.mark.requires(b) if b == "mosquitto" else ())
    for b in scenarios.PIPELINE_BROKERS
]


def _run(benchmark: Any, config: SimConfig) -> Any:
    run = benchmark.pedantic(simulate, args=(config,), rounds=1, iterations=1)
    tag_figures(benchmark, Suite.PIPELINE, run)
    return run


@pytest.mark.parametrize("broker", BROKERS)
@pytest.mark.parametrize(
    "load", scenarios.PIPELINE_LOADS, ids=[f"{n}x{hz:g}Hz" for n, hz in scenarios.PIPELINE_LOADS]
)
@pytest.mark.usefixtures("every_cpu")  # the parties placed apart, not on the bench's one CPU
def test_pipeline_load(benchmark: Any, bench_profile: Any, broker: str, load: Any) -> None:
    patients, rate_hz = load
    if load not in bench_profile.pipeline_loads:
        pytest.skip(f"{patients} devices at {rate_hz:g} Hz runs in the full profile")
    run = _run(
        benchmark,
        SimConfig(
            patients=patients,
            rate_hz=rate_hz,
            duration_s=bench_profile.pipeline_s,
            embedded=broker,
            policy="immediate",
            deteriorating=0.0,
            drain_s=5.0,
            processes=True,  # each party its own process, as deployed
            pin=split_if_possible(),  # the load generator apart from the system it loads
        ),
    )
    assert run.counts["delivered"] > 0


@pytest.mark.usefixtures("every_cpu")
@pytest.mark.parametrize("policy", ["fixed", "adaptive"])
def test_pipeline_policy(benchmark: Any, bench_profile: Any, policy: str) -> None:
    run = _run(
        benchmark,
        SimConfig(
            **scenarios.POLICY_LOAD,  # type: ignore[arg-type]
            duration_s=bench_profile.policy_s,
            policy=policy,
            onset_s=2.0,
            processes=True,
            pin=split_if_possible(),
        ),
    )
    assert run.counts["lost"] == 0


@pytest.mark.usefixtures("every_cpu")
@pytest.mark.requires("mosquitto")
@pytest.mark.parametrize("policy", scenarios.SWEEP_POLICIES)
@pytest.mark.parametrize("size", scenarios.SWEEP_SIZES, ids=lambda n: f"{n}B")
def test_policy_sweep(benchmark: Any, bench_profile: Any, size: int, policy: str) -> None:
    if size not in bench_profile.sweep_sizes:
        pytest.skip(f"{size:,} B messages run in the full profile")
    config = SimConfig(
        **scenarios.sweep_load(size, bench_profile.sweep_s),
        embedded="mosquitto",
        policy=policy,
        processes=True,
        pin=split_if_possible(),
    )
    run = benchmark.pedantic(simulate, args=(config,), rounds=1, iterations=1)
    tag_figures(benchmark, Suite.POLICY_SWEEP, PolicyPoint(size, run))
    assert run.counts["lost"] == 0
