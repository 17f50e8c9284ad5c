"""Device fleets on Locust's distributed engine (dthq fleet): the scenarios at the
profile's size, and in the full profile the capacity curve through each broker and a
pool of two gateways. Each benchmark is one run; its figures are the run's own (see
FleetRun). The bench pins itself to one CPU; a fleet gets every CPU back, since its
processes (broker, gateways, twin, workers) are what is being measured together."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench.tags import Suite, tag_figures
from dthq.fleet.capacity import holds
from dthq.fleet.config import FleetConfig
from dthq.fleet.run import run_fleet
from dthq.harness import scenarios
from dthq.transport.brokers import find_mosquitto

pytestmark = pytest.mark.requires("locust")
MOSQUITTO = find_mosquitto() is not None
BROKER = "mosquitto" if MOSQUITTO else "amqtt"  # the reference broker when present
BROKERS = [
    pytest.param(b, marks=pytest.mark.requires(b) if b == "mosquitto" else ())
    for b in scenarios.PIPELINE_BROKERS
]
_broken: set[tuple[str, int]] = set()  # (broker, gateways) curves past their first failure


pytestmark = pytest.mark.usefixtures("every_cpu")  # the fleet's processes on every core


def _run(benchmark: Any, config: FleetConfig, tmp_path: Path) -> Any:
    run = benchmark.pedantic(run_fleet, args=(config, tmp_path), rounds=1, iterations=1)
    tag_figures(benchmark, Suite.FLEET, run)
    return run


@pytest.mark.parametrize("scenario", scenarios.FLEET_SCENARIOS)
def test_fleet_scenario(benchmark: Any, bench_profile: Any, scenario: str, tmp_path: Path) -> None:
    if scenario not in bench_profile.fleet_scenarios:
        pytest.skip(f"the {scenario} scenario runs in the full profile")
    config = FleetConfig(
        scenario=scenario,
        devices=bench_profile.fleet_devices,
        duration_s=bench_profile.fleet_s,
        embedded=BROKER,
    )
    run = _run(benchmark, config, tmp_path)
    assert run.counts["handshakes"] >= bench_profile.fleet_devices


def _capacity(benchmark: Any, config: FleetConfig, tmp_path: Path) -> None:
    curve = (config.embedded, config.gateways)
    if curve in _broken:
        pytest.skip(f"{config.embedded} with {config.gateways} gateway(s) broke at a smaller size")
    run = _run(benchmark, config, tmp_path)
    if holds(run) is not None:
        _broken.add(curve)


@pytest.mark.parametrize("broker", BROKERS)
@pytest.mark.parametrize("devices", scenarios.FLEET_CAPACITY_SIZES)
def test_fleet_capacity(
    benchmark: Any, bench_profile: Any, broker: str, devices: int, tmp_path: Path
) -> None:
    if devices not in bench_profile.fleet_capacity_sizes:
        pytest.skip("the capacity curve runs in the full profile")
    base = FleetConfig(duration_s=bench_profile.fleet_s, embedded=broker)
    _capacity(
        benchmark, replace(base, devices=devices, spawn_rate=max(100.0, devices / 10)), tmp_path
    )


@pytest.mark.requires("mosquitto")  # a gateway pool needs its MQTT 5 shared subscriptions
@pytest.mark.parametrize("devices", scenarios.FLEET_POOL_SIZES)
def test_fleet_gateway_pool(
    benchmark: Any, bench_profile: Any, devices: int, tmp_path: Path
) -> None:
    if devices not in bench_profile.fleet_pool_sizes:
        pytest.skip("the two-gateway pool runs in the full profile")
    config = FleetConfig(
        devices=devices,
        duration_s=bench_profile.fleet_s,
        embedded="mosquitto",
        gateways=2,
        spawn_rate=max(100.0, devices / 10),
    )
    _capacity(benchmark, config, tmp_path)
