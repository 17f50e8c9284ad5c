"""What ``dthq``'s exit code says: one table, used by every command (and in the README)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # a check or a verdict failed: a bad stored record, a regression
    USAGE = 2  # a bad option, or the environment: a missing file, tool or package, a busy port
    ABORTED = 3  # a run aborted (no QKD key, failed benchmarks, a fleet part died; Ctrl-C)
