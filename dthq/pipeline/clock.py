"""The pipeline's time, passed in. Handlers ask the clock they were given and never read
time themselves, so a test runs them on a fixed or stepping clock; the composition
points (``Pipeline``, the fleet's services, the CLI) hand them :data:`SYSTEM_CLOCK`.

Latency stamps (``time.perf_counter_ns``) and CPU accounting stay in
:mod:`dthq.pipeline.metrics`: they measure the handlers, they are not an input to them."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Milliseconds since the epoch: stamps readings and records, dates cookies and
        half-open handshakes, and is what a receiver checks freshness against."""
        ...

    def monotonic_s(self) -> float:
        """Seconds that never step back (unlike ``now_ms`` under NTP): batch windows."""
        ...


class SystemClock:
    """The machine's wall clock and monotonic clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic_s(self) -> float:
        return time.monotonic()


SYSTEM_CLOCK = SystemClock()
