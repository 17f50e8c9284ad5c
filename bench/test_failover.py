"""Failover, measured on a real RabbitMQ cluster on loopback (the full profile): each
node killed with ``kill -9`` in turn under a QoS 1 stream; its figures the FailoverRun
the report's scale section shows."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from bench.tags import Suite, tag_figures
from dthq.harness import failover
from dthq.transport.cluster import RABBITMQ_MISSING, RabbitCluster, find_rabbitmq


def test_failover(benchmark: Any, bench_profile: Any) -> None:
    nodes = bench_profile.failover_nodes
    if not nodes:
        pytest.skip(f"the {bench_profile.name} profile leaves failover to the full profile")
    if find_rabbitmq() is None:
        pytest.skip(RABBITMQ_MISSING)
    with (
        tempfile.TemporaryDirectory(prefix="dthq-failover-") as folder,
        RabbitCluster(Path(folder), nodes) as cluster,
    ):
        run = benchmark.pedantic(failover.measure, args=(cluster,), rounds=1, iterations=1)
    tag_figures(benchmark, Suite.FAILOVER, run)
    assert run.kills
    # A run that lost acknowledged messages must not exit 0 (the bench then fails).
    assert run.lost == 0, f"{run.lost} of {run.acknowledged} acknowledged messages lost"
