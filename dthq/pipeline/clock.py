"""The pipeline's time, passed in. Every party takes the clock as a required argument
and stamps, dates and checks freshness only by it, so a test runs them on a fixed or
stepping clock; the composition points (``simulate``, the dashboard, the fleet's
services, the CLI) hand them :data:`SYSTEM_CLOCK`. ``Pipeline.run`` and ``drain`` pace
by its ``monotonic_s``.

The handlers also read ``time.perf_counter_ns`` themselves, for the latency stamps
:mod:`dthq.pipeline.metrics` sums up: those only measure the handlers, nothing they
decide depends on them, so they do not go through the clock."""

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
