"""Where a run's processes run (``pin``): the cores of the system under test and of the
load generator (a ``processes=True`` pipeline run, and the bare paho pair it is set
against, placed alike)."""

from __future__ import annotations

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


def split_if_possible() -> str:
    """ "split" where this process may use 2 cores or more, else "none" (the bench's
    choice: the load generator apart from the system it loads)."""
    return "split" if len(os.sched_getaffinity(0)) > 1 else "none"
