"""Where a ``processes=True`` run's parties run (``pin``): the cores of the system under
test and of the load generator, and this process's own threads placed for a broker that
runs in it."""

from __future__ import annotations

import contextlib
import os

from dthq.errors import UnsupportedError


def placement(pin: str) -> tuple[set[int] | None, set[int] | None]:
    """(the system's cores, the load generator's) for ``pin``; None: the OS places."""
    if pin == "none":
        return None, None
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise UnsupportedError(f"pin={pin!r} needs 2 cores; this process may use {len(cores)}")
    return set(cores[1:]), {cores[0]}  # the load where CPU 0's interrupts land


class PinnedHere:
    """This process's threads on ``cores`` for the run (a broker running here), then
    each back where it was (threads started meanwhile inherit their creator's)."""

    def __init__(self, cores: set[int]) -> None:
        self._cores = cores
        self._before: dict[int, set[int]] = {}

    def __enter__(self) -> PinnedHere:
        for tid in map(int, os.listdir("/proc/self/task")):
            with contextlib.suppress(OSError):  # a thread that ended meanwhile
                self._before[tid] = os.sched_getaffinity(tid)
                os.sched_setaffinity(tid, self._cores)
        return self

    def __exit__(self, *_: object) -> None:
        for tid, cores in self._before.items():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, cores)
