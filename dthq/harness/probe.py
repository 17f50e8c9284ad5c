"""A quick look at one scheme: time its handshake, then send one record each way.

What ``dthq handshake`` prints. Provisioning happens before (in the scheme's
constructor), and one warm-up handshake is not timed; the timed region is ``establish``
alone. The clock is passed in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dthq.harness.results import Distribution, FlightSize
from dthq.schemes import Scheme

MS = 1e3


@dataclass(frozen=True)
class HandshakeProbe:
    scheme: str
    params: dict[str, Any]
    flights: tuple[FlightSize, ...]
    handshake_ms: Distribution
    record_overhead_bytes: int
    record_bytes: int
    payload_bytes: int
    established: bool  # both records opened to what was sealed
    suite: str | None = None  # the cipher suite, for a scheme that names one (DTHQ's)

    @property
    def handshake_bytes(self) -> int:
        return sum(f.size for f in self.flights)

    def to_json(self) -> dict[str, Any]:
        """What ``dthq handshake --json`` prints: times in ms, rounded to 0.1 us."""
        return {
            "scheme": self.scheme,
            **self.params,
            "suite": self.suite,
            "flights": [f.size for f in self.flights],
            "flight_names": [f.name for f in self.flights],
            "handshake_bytes": self.handshake_bytes,
            "record_overhead_bytes": self.record_overhead_bytes,
            "record_bytes": self.record_bytes,
            "payload_bytes": self.payload_bytes,
            "handshake_ms": round(self.handshake_ms.median, 4),
            "handshake_ms_iqr": round(self.handshake_ms.iqr, 4),
            "rounds": self.handshake_ms.rounds,
            "established": self.established,
        }


def probe_handshake(
    scheme: Scheme,
    payload: bytes,
    rounds: int = 1,
    *,
    now_ms: Callable[[], int],
    timer: Callable[[], float] = time.perf_counter,
) -> HandshakeProbe:
    """``now_ms``: the wall clock, in epoch milliseconds, the handshakes and records are
    dated by; ``timer``: what times the handshakes."""
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    # One untimed handshake first: the first use imports and initialises the backends
    # (about 35 ms with liboqs against 0.44 ms warm), which is not the handshake's cost.
    scheme.establish(now_ms=now_ms())
    samples = []
    for _ in range(rounds):
        at = now_ms()
        start = timer()
        session = scheme.establish(now_ms=at)
        samples.append(timer() - start)
    at = now_ms()
    record = session.initiator.seal(payload, now_ms=at)
    established = session.responder.open(record, at) == payload
    echo = session.responder.seal(b"ack", now_ms=at)
    established = established and session.initiator.open(echo, at) == b"ack"
    return HandshakeProbe(
        scheme=scheme.name,
        params=dict(session.params),
        flights=tuple(FlightSize(f.sender, f.name, f.size) for f in session.flights),
        handshake_ms=Distribution.from_samples(samples, MS),
        record_overhead_bytes=session.initiator.overhead,
        record_bytes=len(record),
        payload_bytes=len(payload),
        established=established,
        suite=suite.name if (suite := getattr(scheme, "suite", None)) else None,
    )
