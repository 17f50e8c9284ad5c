"""Held rates, the paper's central claim judged where it makes it: for each broker, the
bare paho pair's held rate (the reference), then the pipeline's, back to back, each
found by doubling then bisection (dthq.harness.held), same broker, QoS 1 and payload
size (a device's sealed reading frame, measured from the pipeline). Then the cloud's
CPU per reading with FHIR Bundles and without, at one load. Each search is one
benchmark; its figures are the HeldRate with every probe."""

from __future__ import annotations

import functools
import os
from typing import Any

import pytest

from bench.tags import Suite, tag_figures
from dthq.harness import held, pair, scenarios
from dthq.harness.placement import placement, split_if_possible
from dthq.harness.results import FHIRCost, HeldProbe, HeldRate
from dthq.pipeline.run import EMBEDDED, SimConfig, simulate
from dthq.transport.brokers import find_mosquitto

QOS = 1
PAIR, PIPELINE = "paho pair", "pipeline"
# Pair, then pipeline, per broker: the two searches of a broker run back to back.
SEARCHES = [
    pytest.param(b, s, marks=pytest.mark.requires(b) if b == "mosquitto" else (), id=f"{b}-{s}")
    for b in scenarios.PIPELINE_BROKERS
    for s in ("pair", "pipeline")
]
BROKERS = [
    pytest.param(b, marks=pytest.mark.requires(b) if b == "mosquitto" else ())
    for b in scenarios.PIPELINE_BROKERS
]
# A run the size of a held-rate probe: only the load differs between them. Each party
# its own process; the pair's are placed as the pipeline's are (pin: the load generator,
# the publisher, on a core of its own; broker and the rest on the others).
PIPELINE_SETTINGS: dict[str, Any] = {
    "policy": "immediate",
    "deteriorating": 0.0,
    "drain_s": 2.0,
    "processes": True,
}
pytestmark = pytest.mark.usefixtures("every_cpu")


@functools.cache
def reading_frame_bytes() -> int:
    """A device's sealed reading as it goes on the wire (frame byte included), the mean
    over a short run through the memory bus: the pair's payload size."""
    run = simulate(
        SimConfig(transport="memory", patients=2, rate_hz=20.0, duration_s=1.0, **_in_process())
    )
    return round(run.bytes_up["device"] / run.counts["sent"])


def _in_process() -> dict[str, Any]:
    return {k: v for k, v in PIPELINE_SETTINGS.items() if k != "processes"}


def pair_probe(broker: str, window_s: float, payload_bytes: int) -> held.Probe:
    def probe(rate: float) -> HeldProbe:
        system, load = placement(split_if_possible())
        with EMBEDDED[broker]() as running:  # a fresh broker per probe, as simulate starts one
            if system is not None and running.pid is not None:
                os.sched_setaffinity(running.pid, system)
            return pair.probe(
                running.url,
                running.protocol,
                rate,
                window_s=window_s,
                payload_bytes=payload_bytes,
                qos=QOS,
                system_cores=system,
                load_cores=load,
            )

    return probe


def pipeline_probe(broker: str, window_s: float, patients: int) -> held.Probe:
    def probe(rate: float) -> HeldProbe:
        config = SimConfig(
            patients=patients,
            rate_hz=rate / patients,
            duration_s=window_s,
            embedded=broker,
            qos=QOS,
            pin=split_if_possible(),
            **PIPELINE_SETTINGS,
        )
        return held.probe_of(rate, lambda: simulate(config))

    return probe


def runs_here(broker: str, chosen: tuple[str, ...]) -> bool:
    """``broker`` is one the profile searches, or amqtt standing in for a Mosquitto
    that is not installed."""
    return broker in chosen or (
        broker == "amqtt" and "mosquitto" in chosen and find_mosquitto() is None
    )


def broker_version(broker: str) -> str:
    return str(EMBEDDED[broker]().version)


@pytest.mark.parametrize(("broker", "subject"), SEARCHES)
def test_held_rate(benchmark: Any, bench_profile: Any, broker: str, subject: str) -> None:
    if not runs_here(broker, bench_profile.held_brokers):
        pytest.skip(f"the {bench_profile.name} profile leaves {broker} to the full profile")
    payload_bytes = reading_frame_bytes()
    window = bench_profile.held_probe_s
    if subject == "pair":
        name, probe = PAIR, pair_probe(broker, window, payload_bytes)
        lo, hi, start = scenarios.HELD_PAIR_RANGE
    else:
        name, probe = PIPELINE, pipeline_probe(broker, window, scenarios.HELD_PATIENTS)
        lo, hi, start = scenarios.HELD_PIPELINE_RANGE
    precision = bench_profile.held_precision
    found = benchmark.pedantic(
        held.search,
        args=(probe,),
        kwargs={"lo": lo, "hi": hi, "start": start, "precision": precision},
        rounds=1,
        iterations=1,
    )
    result = HeldRate(
        subject=name,
        broker=broker_version(broker),
        qos=QOS,
        payload_bytes=payload_bytes,
        probe_s=window,
        precision=precision,
        p99_limit_ms=held.P99_LIMIT_MS,
        held_per_s=found.held_per_s,
        capped=found.capped,
        probes=found.probes,
    )
    tag_figures(benchmark, Suite.HELD, result)
    assert found.probes


@pytest.mark.parametrize("broker", BROKERS)
def test_fhir_cloud_cpu(benchmark: Any, bench_profile: Any, broker: str) -> None:
    if not runs_here(broker, bench_profile.held_fhir_brokers):
        brokers = ", ".join(bench_profile.held_fhir_brokers)
        pytest.skip(f"the {bench_profile.name} profile runs the FHIR cost through {brokers}")
    patients, rate_hz = scenarios.HELD_FHIR_LOAD
    settings = {**PIPELINE_SETTINGS, "drain_s": 10.0}  # everything delivered, both runs

    def both() -> FHIRCost:
        runs = {
            fhir: simulate(
                SimConfig(
                    patients=patients,
                    rate_hz=rate_hz,
                    duration_s=bench_profile.held_fhir_s,
                    embedded=broker,
                    qos=QOS,
                    fhir=fhir,
                    pin=split_if_possible(),
                    **settings,
                )
            )
            for fhir in (True, False)
        }
        return FHIRCost(runs[True].broker, with_fhir=runs[True], without_fhir=runs[False])

    cost = benchmark.pedantic(both, rounds=1, iterations=1)
    tag_figures(benchmark, Suite.FHIR_COST, cost)
    assert cost.with_fhir.counts["delivered"] and cost.without_fhir.counts["delivered"]
