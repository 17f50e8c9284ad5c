"""The gate's one error: two results it cannot compare, or limits it cannot read. Never
a regression: `dthq compare` exits 2 on it, the harness's failure, not the code's."""

from __future__ import annotations

from dthq.errors import DTHQError


class GateError(DTHQError):
    """Two results that cannot be compared, too few samples to judge, or a bad limits
    file."""
