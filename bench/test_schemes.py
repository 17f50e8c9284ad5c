"""The paper's central comparison where it makes it, in a deployed system: readings
carried three ways through the same Mosquitto at the same load, one after the other in
one bench run (DTHQ over plain MQTT, MQTT over TLS 1.3 alone, DTHQ inside TLS).

Each benchmark is one SchemeRun, made of three measurements of the scheme:
- the steady run at ``SCHEME_LOAD``, every party its own process placed as the pipeline
  suite places them (end-to-end p50/p99, CPU per process with the broker's, the broker's
  socket bytes per reading);
- its held rate, found by doubling then bisection at ``SCHEME_LOAD``'s devices, as the
  held suite finds the pipeline's (the quick profile: for the two schemes the system-level
  verdict compares, DTHQ over MQTT and MQTT over TLS);
- the recoveries (a broker restart, then a gateway restart), timed with the parties in
  one process, whose devices the timer drives (the same for every scheme).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bench.tags import Suite, tag_figures
from dthq.harness import held, scenarios
from dthq.harness.placement import split_if_possible
from dthq.harness.results import SCHEMES, HeldProbe, SchemeRun
from dthq.pipeline.run import SimConfig, simulate
from dthq.pipeline.scheme_run import run_scheme

pytestmark = pytest.mark.usefixtures("every_cpu")
RECOVERY_RUN_S = 2.0  # the in-process run before the recoveries: sessions up, load going


def _config(scheme: str, **load: Any) -> SimConfig:
    settings: dict[str, Any] = {
        "embedded": "mosquitto",
        "scheme": scheme,
        "devices_per_connection": 1,  # as a deployment has it, whichever the scheme
        "policy": "immediate",
        "deteriorating": 0.0,
        "drain_s": 5.0,
    }
    return SimConfig(**{**settings, **load})


def _in_processes(scheme: str, **load: Any) -> SimConfig:
    return _config(scheme, processes=True, pin=split_if_possible(), **load)


def _held(scheme: str, profile: Any) -> float | None:
    patients = int(scenarios.SCHEME_LOAD["patients"])

    def probe(rate: float) -> HeldProbe:
        config = _in_processes(
            scheme,
            patients=patients,
            rate_hz=rate / patients,
            duration_s=profile.held_probe_s,
            drain_s=2.0,
        )
        return held.probe_of(rate, lambda: simulate(config))

    lo, hi, start = scenarios.HELD_PIPELINE_RANGE
    hi = min(hi, patients * 100.0)  # a device sends at most 100 Hz
    return held.search(
        probe, lo=lo, hi=hi, start=start, precision=profile.held_precision
    ).held_per_s


def measure(scheme: str, profile: Any) -> SchemeRun:
    steady = simulate(_in_processes(scheme, **scenarios.SCHEME_LOAD, duration_s=profile.schemes_s))
    recovered = run_scheme(_config(scheme, **scenarios.SCHEME_LOAD, duration_s=RECOVERY_RUN_S))
    delivered = steady.counts.get("delivered", 0)
    return dataclasses.replace(
        recovered,
        run=steady,
        wire_bytes_per_reading=(
            steady.broker_bytes / delivered if delivered and steady.broker_bytes else None
        ),
        broker_cpu_s=steady.cpu_s.get("broker", 0.0),
        held_per_s=_held(scheme, profile) if scheme in profile.schemes_held else None,
        held_precision=profile.held_precision,
    )


@pytest.fixture(scope="module")
def warmed() -> None:
    """A short untagged run first: the first pipeline of a process pays one-off costs
    (imports, first uses) that must not land on whichever scheme runs first (a first
    run here once had a p50 of 471 ms where the same scheme later had 21 ms)."""
    simulate(SimConfig(patients=2, rate_hz=5.0, duration_s=1.0, embedded="mosquitto"))


@pytest.mark.requires("mosquitto")
@pytest.mark.parametrize("scheme", SCHEMES)
def test_scheme_through_the_pipe(
    benchmark: Any, bench_profile: Any, warmed: None, scheme: str
) -> None:
    run = benchmark.pedantic(measure, args=(scheme, bench_profile), rounds=1, iterations=1)
    tag_figures(benchmark, Suite.SCHEMES, run)
    assert run.run.counts["delivered"] > 0
