"""The primitives measured pyperf's way, and checked against ``timeit`` run apart.

:func:`measure` starts fresh processes one after another (dthq.harness.primitive_worker),
each on the bench's CPUs: a *worker* times interleaved rounds of every primitive, and
a *timeit process* times each with the standard library's ``timeit`` alone. They
alternate (worker, timeit, worker, timeit, ...), so a drift of the machine's speed
lands on both sides of the cross-check. The first worker calibrates the loops per
round; every later process uses them, so both sides time rounds of the same size.

A primitive's Distribution is made of all the workers' rounds; its stability values are
the means of blocks of each worker's rounds (``blocks_per_worker`` a worker), so both
a noisy stretch inside a process and a process unlike the others show; its shortest raw
value is its shortest round times its loops. Its timeit figures (median and minimum per
call) come from the timeit processes only.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dthq.errors import DTHQError
from dthq.harness.primitive_set import by_name
from dthq.harness.results import Distribution, Primitive
from dthq.harness.stability import blocks, check

US = 1e6
WORKER = "dthq.harness.primitive_worker"


class WorkerFailed(DTHQError):
    """A measuring process exited with an error: the run's primitives cannot be trusted."""


@dataclass(frozen=True)
class Plan:
    workers: int  # worker processes, and as many timeit processes between them
    rounds: int  # interleaved rounds a worker times
    repeat: int  # timeit repeats a timeit process takes of each primitive
    blocks_per_worker: int = 2  # stability values a worker's rounds give

    def __post_init__(self) -> None:
        if self.workers < 1 or self.rounds < 1 or self.repeat < 1:
            raise ValueError(f"a plan needs at least one of each: {self}")

    @property
    def processes(self) -> int:
        return 2 * self.workers


Progress = Callable[[int, int, str], None]  # (processes done, of, what ran)
# A process that has not answered in this long is stuck (a quick one takes seconds, a
# full one under a minute): stopped, and the run fails rather than waiting forever.
WORKER_TIMEOUT_S = 600.0
ANSWER_KEYS = {"rounds": {"loops", "absent", "rounds"}, "timeit": {"timeit"}}


def run_process(request: dict[str, Any], python: str = sys.executable) -> dict[str, Any]:
    """One fresh measuring process: ``request`` in, its answer out."""
    if hasattr(os, "sched_getaffinity"):
        request = {**request, "cpus": sorted(os.sched_getaffinity(0))}
    what = f"{WORKER} ({request['kind']})"
    try:
        done = subprocess.run(
            [python, "-m", WORKER],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            check=False,
            timeout=WORKER_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise WorkerFailed(f"{what} gave no answer in {WORKER_TIMEOUT_S:g} s: stopped") from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["(nothing on stderr)"]
        # the exception's own line, not the traceback above it
        raise WorkerFailed(f"{what} exited {done.returncode}: {lines[-1]}")
    try:
        answer = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise WorkerFailed(f"{what} answered no JSON: {done.stdout[:80]!r}") from None
    wanted = ANSWER_KEYS[request["kind"]]
    if not isinstance(answer, dict) or not wanted <= answer.keys():
        raise WorkerFailed(f"{what} answered without {sorted(wanted)}: {done.stdout[:80]!r}")
    return answer


def measure(
    names: Sequence[str],
    plan: Plan,
    *,
    seed: int = 0,
    progress: Progress = lambda *_: None,
    python: str = sys.executable,
) -> tuple[tuple[Primitive, ...], tuple[str, ...]]:
    """The named primitives measured by ``plan``: (primitives, names absent here)."""
    base = {"names": list(names)}
    rounds: dict[str, list[list[float]]] = {}  # name -> each worker's rounds
    timed: dict[str, list[float]] = {}
    loops: dict[str, int] | None = None
    absent: tuple[str, ...] = ()
    for i in range(plan.workers):
        got = run_process(
            {**base, "kind": "rounds", "rounds": plan.rounds, "loops": loops, "seed": seed + i},
            python,
        )
        loops, absent = got["loops"], tuple(got["absent"])
        for name, values in got["rounds"].items():
            rounds.setdefault(name, []).append(values)
        progress(2 * i + 1, plan.processes, f"worker {i + 1} of {plan.workers}")
        got = run_process(
            {**base, "kind": "timeit", "repeat": plan.repeat, "loops": loops, "seed": seed + i},
            python,
        )
        for name, values in got["timeit"].items():
            timed.setdefault(name, []).extend(values)
        progress(2 * i + 2, plan.processes, f"timeit {i + 1} of {plan.workers}")
    assert loops is not None  # plan.workers >= 1
    specs = by_name()
    out = [
        primitive(
            name,
            rounds[name],
            timed[name],
            loops[name],
            plan.blocks_per_worker,
            specs[name].params,
        )
        for name in names
        if name in rounds
    ]
    return tuple(out), absent


def primitive(
    name: str,
    per_worker: Sequence[Sequence[float]],
    timeit_s: Sequence[float],
    loops: int,
    blocks_per_worker: int,
    params: dict[str, Any] | None = None,
) -> Primitive:
    """One primitive's figures from its workers' rounds and its timeit repeats (seconds
    per call), with the stability of its block means."""
    every = [t for worker in per_worker for t in worker]
    values = [m for worker in per_worker for m in blocks(worker, blocks_per_worker)]
    stability = check(values, shortest_raw_s=min(every) * loops)
    time_us = Distribution.from_samples(every, US).assessed(stability)
    return Primitive(
        name=name,
        time_us=time_us,
        timeit_median_us=statistics.median(timeit_s) * US,
        timeit_min_us=min(timeit_s) * US,
        params=params or {},
    )
