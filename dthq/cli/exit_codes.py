"""What ``dthq``'s exit code says: one table for every command but the gate, and the
gate's own (both in the README)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # a check or a verdict failed: a bad stored record, lost readings
    USAGE = 2  # a bad option, or the environment: a missing file, tool or package, a busy port
    ABORTED = 3  # a run aborted (no QKD key, failed benchmarks, a fleet part died; Ctrl-C)


class GateExit(IntEnum):
    """``dthq compare``'s codes (Gungraun's idea: a regression has a code of its own), so
    a script never reads a failure to run as a regression, nor the reverse."""

    PASS = 0  # nothing gated is slower (or a slower figure accepted by the trailer)
    HARNESS = 2  # the gate could not judge: bad option, file or limits, no valgrind, the
    # driver crashed, too few samples, interrupted
    REGRESSION = 3  # a gated figure is slower beyond its limits
