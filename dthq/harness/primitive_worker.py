"""One measuring process of the primitives suite: ``python -m dthq.harness.primitive_worker``.

It reads one JSON request on stdin and writes one JSON answer on stdout. Two kinds:

- ``rounds``: interleaved rounds of every named primitive (dthq.harness.rounds), after
  one warm-up round each. Without ``loops`` it calibrates them first (the first worker
  does, as pyperf's does) and answers with the loops it used, for the others.
- ``timeit``: the independent check: the standard library's ``timeit.Timer(call)``
  times ``loops`` calls, ``repeat`` times for each primitive, nothing of this harness in
  the timing. Its repeats are spread over the process as the workers' rounds are (each
  pass takes one repeat of every primitive, in a fresh random order): ``repeat`` back to
  back would put one primitive's every repeat in the same few milliseconds, where one
  burst of another process's work lands on all of them.

Times are seconds per call. A primitive whose library is absent here is answered under
``absent``. The process pins itself to the CPUs it is given (those of the bench).
"""

from __future__ import annotations

import json
import os
import random
import sys
import timeit
from collections.abc import Mapping
from typing import Any

from dthq.harness.primitive_set import Call, by_name
from dthq.harness.rounds import calibrate, interleaved, time_round

# Calibrated rounds last at least this long: a margin over stability's 1 ms floor, so
# a round faster than the calibrating one is not "shorter than 1 ms" (a calibration
# taken under another process's load picked half the loops a quiet round needs).
ROUND_S = 2.5e-3
_specs = by_name()


def _calls(names: list[str]) -> tuple[dict[str, Call], list[str]]:
    specs, calls, absent = _specs, {}, []
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise ValueError(f"unknown primitives {unknown}")
    for name in names:
        call = specs[name].build()
        if call is None:
            absent.append(name)
        else:
            calls[name] = call
    return calls, absent


def measure_rounds(
    calls: Mapping[str, Call], rounds: int, loops: Mapping[str, int] | None, seed: int
) -> dict[str, Any]:
    if loops is None:
        for fn in calls.values():  # a first call's lazy set-up must not set the loops
            time_round(fn, 1)
        loops = {
            name: calibrate(fn, _specs[name].round_s or ROUND_S, repeat=3)
            for name, fn in calls.items()
        }
    for name, fn in calls.items():  # one warm-up round each, not kept
        time_round(fn, loops[name])
    return {"loops": dict(loops), "rounds": interleaved(calls, rounds, loops, seed=seed)}


def measure_timeit(
    calls: Mapping[str, Call], repeat: int, loops: Mapping[str, int], seed: int
) -> dict[str, Any]:
    timers = {name: timeit.Timer(fn) for name, fn in calls.items()}
    out: dict[str, list[float]] = {name: [] for name in timers}
    names, rng = list(timers), random.Random(seed)
    for _ in range(repeat):
        rng.shuffle(names)
        for name in names:
            (t,) = timers[name].repeat(1, loops[name])  # timeit turns GC off meanwhile
            out[name].append(t / loops[name])
    return {"timeit": out}


def answer(request: Mapping[str, Any]) -> dict[str, Any]:
    """What one process answers to ``request`` (in this process: the tests call it too)."""
    calls, absent = _calls(list(request["names"]))
    loops = request.get("loops")
    if request["kind"] == "rounds":
        out = measure_rounds(calls, int(request["rounds"]), loops, int(request.get("seed", 0)))
    elif request["kind"] == "timeit":
        if loops is None:
            raise ValueError("a timeit process needs the workers' loops")
        out = measure_timeit(calls, int(request["repeat"]), loops, int(request.get("seed", 0)))
    else:
        raise ValueError(f"unknown kind {request['kind']!r} (rounds or timeit)")
    return {**out, "absent": absent}


def main() -> None:
    request = json.load(sys.stdin)
    cpus = request.get("cpus")
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cpus)
    json.dump(answer(request), sys.stdout)


if __name__ == "__main__":
    main()
