"""The fault suite as a benchmark: one bounded run per broker of the profile (amqtt in
the quick profile; amqtt, Mosquitto and a 3-node RabbitMQ cluster for two minutes each
in the full one), its figures the ChaosRun the report's "faults survived" table shows."""

from __future__ import annotations

from typing import Any

import pytest

from bench.tags import Suite, tag_figures
from chaos.run import ChaosConfig, run_suite
from dthq.harness.scenarios import PROFILES
from dthq.transport.brokers import find_mosquitto
from dthq.transport.cluster import RABBITMQ_MISSING, find_rabbitmq

BROKERS = sorted({b for p in PROFILES.values() for b in p.chaos_brokers})


@pytest.mark.parametrize("broker", BROKERS)
def test_faults_survived(benchmark: Any, bench_profile: Any, broker: str) -> None:
    if broker not in bench_profile.chaos_brokers:
        brokers = ", ".join(bench_profile.chaos_brokers)
        pytest.skip(f"the {bench_profile.name} profile runs the fault suite through {brokers}")
    if broker == "mosquitto" and find_mosquitto() is None:
        pytest.skip("mosquitto is not installed (Debian package mosquitto)")
    if broker == "rabbitmq" and find_rabbitmq() is None:
        pytest.skip(RABBITMQ_MISSING)
    config = ChaosConfig(broker=broker, duration_s=bench_profile.chaos_s)
    run = benchmark.pedantic(run_suite, args=(config, None, lambda _: None), rounds=1, iterations=1)
    tag_figures(benchmark, Suite.CHAOS, run)
