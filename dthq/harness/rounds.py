"""Timed rounds, interleaved across calls (pyperf's loops, asv's interleaving).

A *round* times ``loops`` back-to-back calls of one zero-argument function with
``perf_counter`` and gives the time per call. :func:`calibrate` picks ``loops`` so a
round lasts at least ``min_round_s`` (timeit's autorange, to a floor). :func:`interleaved`
times every call once per round, in a fresh random order each round: a burst of load
lands on all of them alike, and paired figures (a ratio's numerator and denominator)
come from rounds taken side by side.

The loop is timeit's own (``for _ in it: fn()``), so a sub-microsecond call is timed
with the same overhead ``timeit`` adds, and garbage collection is off while timing.
"""

from __future__ import annotations

import gc
import itertools
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

Call = Callable[[], Any]
MIN_ROUND_S = 1e-3
MAX_LOOPS = 1 << 20


def time_round(fn: Call, loops: int) -> float:
    """Seconds per call over ``loops`` calls."""
    it = itertools.repeat(None, loops)
    timer = time.perf_counter
    start = timer()
    for _ in it:
        fn()
    return (timer() - start) / loops


def calibrate(fn: Call, min_round_s: float = MIN_ROUND_S, repeat: int = 1) -> int:
    """The fewest loops (1, 2, 5, 10, 20, ...) whose round lasts ``min_round_s``; each
    candidate judged on its fastest of ``repeat`` rounds, so a round stretched by a
    preemption does not settle on too few loops."""
    for loops in (m * 10**e for e in range(7) for m in (1, 2, 5)):
        fastest = min(time_round(fn, loops) for _ in range(repeat))
        if loops >= MAX_LOOPS or fastest * loops >= min_round_s:
            return min(loops, MAX_LOOPS)
    return MAX_LOOPS


def interleaved(
    calls: Mapping[str, Call],
    rounds: int,
    loops: Mapping[str, int],
    *,
    seed: int | None = None,
    between: Callable[[int], None] = lambda _: None,
) -> dict[str, list[float]]:
    """``rounds`` rounds of every call, each round in a fresh random order: seconds per
    call, by name, round by round (round ``i`` of every name taken side by side).
    ``between(i)`` runs after round ``i`` (a progress bar), outside the timing."""
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    missing = calls.keys() - loops.keys()
    if missing:
        raise ValueError(f"no loop count for {sorted(missing)}")
    rng = random.Random(seed)
    names = list(calls)
    out: dict[str, list[float]] = {name: [] for name in names}
    enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(rounds):
            rng.shuffle(names)
            for name in names:
                out[name].append(time_round(calls[name], loops[name]))
            between(i)
    finally:
        if enabled:
            gc.enable()
    return out
