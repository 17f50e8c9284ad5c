"""Published figures of other projects that our measurements are drawn beside. They are
the projects' own numbers, quoted, not re-measured here; every report labels them so."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CascadeAnchor:
    source: str
    schedule: str
    qber: float
    efficiency: tuple[float, float]  # a single value is (v, v)


CASCADE_PYTHON_SOURCE = "cascade-python (B. Rijsman)"
# f at 3 % QBER, from that project's published runs.
CASCADE_PYTHON: tuple[CascadeAnchor, ...] = (
    CascadeAnchor(CASCADE_PYTHON_SOURCE, "original", 0.03, (1.18, 1.18)),
    CascadeAnchor(CASCADE_PYTHON_SOURCE, "with BICONF", 0.03, (1.06, 1.11)),
)
# Its time per 10,000-bit key, seconds (fastest, slowest).
CASCADE_PYTHON_SECONDS_PER_10K = (0.25, 1.5)
