"""A scheme from outside DTHQ bench: DTHQ with ML-KEM-1024, under its own name.

A scheme is any class with ``name``, ``quantum_safe`` ("no", "hybrid" or "yes") and
``establish(now_ms) -> dthq.Session``; the session's two channels ``seal``/``open``
records and its ``flights`` are the handshake's bytes. Register the class under the
``dthq.schemes`` entry-point group (pyproject.toml) and `dthq schemes` lists it,
`dthq bench` measures it as a Table 3 row and the report shows it.
"""

from __future__ import annotations

import dthq


class TinyScheme:
    name = "tiny"
    quantum_safe = "yes"

    def __init__(self) -> None:
        self._inner = dthq.DTHQScheme(kem="ML-KEM-1024")

    def establish(self, now_ms: int) -> dthq.Session:
        s = self._inner.establish(now_ms)
        return dthq.Session(self.name, s.initiator, s.responder, s.flights, {"kem": "ML-KEM-1024"})
