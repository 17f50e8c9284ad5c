"""The capacity curve: steady fleets of growing size through each broker, and its knee.

A size *holds* when the twin takes at least ``HOLD_SHARE`` of the readings offered and
their end-to-end p99 stays within the paper's real-time budget (Table 2: 500 ms). The
knee is the largest size that holds before one that does not; what broke at the next
size (throughput, latency, loss) is its reason. Which process ran out is read off each
run's CPU per process, not guessed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from dthq.fleet.config import FleetConfig
from dthq.fleet.run import Progress, run_fleet
from dthq.harness.results import REALTIME_BUDGET_MS, FleetRun

HOLD_SHARE = 0.95
CAPACITY_SIZES = (10, 100, 1000)  # and, in the full profile, as many as the machine holds


@dataclass(frozen=True)
class Knee:
    devices: int  # the largest size that held
    run: FleetRun
    reason: str  # what broke at the next size


def holds(run: FleetRun) -> str | None:
    """None if this size holds, else why not."""
    if run.counts.get("undelivered", 0):
        return f"{run.counts['undelivered']} readings not at the twin by the end"
    if run.throughput_per_s < HOLD_SHARE * run.offered_per_s:
        return f"delivered {run.throughput_per_s:.0f}/s of {run.offered_per_s:.0f}/s offered"
    e2e = run.end_to_end
    if e2e is None:
        return "nothing delivered"
    p99 = e2e.tail
    if p99 > REALTIME_BUDGET_MS[1]:
        return f"end-to-end p99 {p99:.0f} ms > {REALTIME_BUDGET_MS[1]:.0f} ms"
    return None


BUSY_CORES = 0.8  # a process this busy on average is CPU-bound (one core is its ceiling)


def bottleneck(run: FleetRun) -> str:
    """What ran out: the process nearest a full core (a Python process cannot use more,
    GIL-bound; Mosquitto is single-threaded), or, when none is, the twin's slowest stage
    per reading (its time goes to waiting, e.g. the store's fsync, not to CPU)."""

    def per_process(kv: tuple[str, float]) -> float:
        return kv[1] / (run.workers if kv[0] == "workers" else 1)

    role, cores = max(run.cpu.items(), key=per_process, default=("none", 0.0))
    busiest = f"{role} at {cores:.2f} cores"
    if per_process((role, cores)) >= BUSY_CORES:
        return f"{busiest} (CPU-bound)"
    stages = {
        k[5:-7]: v for k, v in run.costs.items() if k.startswith("twin_") and k.endswith("_ms_p50")
    }
    if not stages:
        return f"no process CPU-bound (busiest: {busiest})"
    stage, ms = max(stages.items(), key=lambda kv: kv[1])
    return (
        f"no process CPU-bound (busiest: {busiest}); "
        f"the twin's slowest stage: {stage} {ms:.1f} ms p50"
    )


def knee(curve: Sequence[FleetRun]) -> Knee | None:
    ordered = sorted(curve, key=lambda r: r.devices)
    for held, nxt in itertools.pairwise(ordered):
        why = holds(nxt)
        if holds(held) is None and why is not None:
            return Knee(held.devices, held, f"at {nxt.devices}: {why}; {bottleneck(nxt)}")
    return None


def sweep(
    base: FleetConfig,
    sizes: Sequence[int],
    run: Callable[[FleetConfig], FleetRun],
    *,
    stop_when_broken: bool = True,
) -> list[FleetRun]:
    """Steady fleets of each size (smallest first); past the first size that does not
    hold, larger ones are not run (they could only break harder)."""
    out = []
    for n in sorted(sizes):
        result = run(replace(base, scenario="steady", devices=n))
        out.append(result)
        if stop_when_broken and holds(result) is not None:
            break
    return out


def capacity_curve(
    base: FleetConfig, sizes: Sequence[int], out: Path, progress: Progress | None = None
) -> list[FleetRun]:
    """``dthq fleet capacity``'s runs: the sweep, each size's Locust report and logs in
    ``out/<broker>-<devices>``."""
    out.mkdir(parents=True, exist_ok=True)
    return sweep(base, sizes, lambda c: run_fleet(c, out / f"{c.embedded}-{c.devices}", progress))
