"""The FHIR outbox's sender: delivers the Bundles the store's outbox holds, on its own
thread, and deletes each once every destination took it.

A Bundle is a transaction whose entries are PUTs to ids derived from the readings, so
sending one again changes nothing: the sender retries freely. Each failed attempt is a
named outcome, counted in :class:`~dthq.pipeline.metrics.Metrics` and kept on the entry:

- ``fhir 5xx``, ``fhir unreachable`` (refused, reset, timed out), ``fhir throttled`` (408,
  429) and ``disk full`` (a ``--fhir-dir`` without room): retried, with exponential
  backoff and jitter (:class:`Backoff`); while one is pending the whole destination waits.
- ``fhir 4xx`` (any other 4xx: the server refuses this Bundle for good): parked, kept in
  the outbox and counted among the unsent, never retried.
- ``disk error`` (another failure writing a ``--fhir-dir``): retried.
"""

from __future__ import annotations

import errno
import http.client
import json
import random
import sqlite3
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from dthq.errors import DTHQError
from dthq.pipeline.clock import Clock
from dthq.pipeline.metrics import Metrics
from dthq.twin import fhir
from dthq.twin.store import Store

FHIR_TIMEOUT_S = 10.0
RETRIED_4XX = frozenset({408, 429})


class DeliveryFailed(DTHQError):
    """One attempt that failed: its named outcome, and whether to try again."""

    def __init__(self, outcome: str, detail: str, *, retry: bool = True) -> None:
        super().__init__(f"{outcome}: {detail}")
        self.outcome, self.retry = outcome, retry


def outcome_of_status(status: int) -> DeliveryFailed | None:
    """An HTTP answer's outcome: None for 2xx."""
    if 200 <= status < 300:
        return None
    if status in RETRIED_4XX:
        return DeliveryFailed("fhir throttled", f"the FHIR server answered {status}")
    if 400 <= status < 500:
        return DeliveryFailed("fhir 4xx", f"the FHIR server answered {status}", retry=False)
    if 500 <= status < 600:
        return DeliveryFailed("fhir 5xx", f"the FHIR server answered {status}")
    return DeliveryFailed("fhir unreachable", f"the FHIR server answered {status}")


class Destination(Protocol):
    def deliver(self, body: bytes) -> None:
        """Hand the Bundle over, or raise :class:`DeliveryFailed`."""
        ...


@dataclass(frozen=True)
class FHIRServer:
    """POST to a FHIR server's base URL (a transaction Bundle goes to the base)."""

    base_url: str
    timeout_s: float = FHIR_TIMEOUT_S

    def deliver(self, body: bytes) -> None:
        request = urllib.request.Request(
            self.base_url.rstrip("/"),
            data=body,
            headers={"Content-Type": "application/fhir+json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                status = response.status
        except urllib.error.HTTPError as exc:  # before URLError: it is one
            status = exc.code
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            # refused, reset, timed out, DNS, or an answer that is not HTTP at all
            reason = getattr(exc, "reason", exc)
            raise DeliveryFailed("fhir unreachable", f"{self.base_url}: {reason!r}") from None
        failed = outcome_of_status(status)
        if failed is not None:
            raise failed


@dataclass(frozen=True)
class FHIRDirectory:
    """Write each Bundle as a file (``bundle-<first observation id>.json``; atomic)."""

    directory: Path

    def deliver(self, body: bytes) -> None:
        try:
            fhir.write(json.loads(body), self.directory)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise DeliveryFailed("disk full", f"{self.directory}: {exc.strerror}") from None
            raise DeliveryFailed("disk error", f"{self.directory}: {exc.strerror}") from None


@dataclass
class Backoff:
    """The wait before attempt ``n + 1`` after ``n`` failed ones: ``base * 2**(n-1)``
    capped at ``cap``, then jittered into its upper half (so retries of many bundles
    after one outage do not arrive together)."""

    base_ms: int = 500
    cap_ms: int = 30_000
    rng: random.Random = field(default_factory=random.Random)

    def bounds_ms(self, failed: int) -> tuple[int, int]:
        ceiling = min(self.cap_ms, self.base_ms * 2 ** max(0, failed - 1))
        return ceiling // 2, ceiling

    def delay_ms(self, failed: int) -> int:
        low, high = self.bounds_ms(failed)
        return self.rng.randint(low, high)


class Sender:
    """Sends the store's due bundles to every destination; :meth:`step` is one pass (a
    test drives it on its own clock), :meth:`start` runs passes on a thread."""

    def __init__(
        self,
        store: Store,
        destinations: Sequence[Destination],
        metrics: Metrics,
        clock: Clock,
        backoff: Backoff | None = None,
    ) -> None:
        self.store, self.destinations = store, tuple(destinations)
        self.metrics, self.clock = metrics, clock
        self.backoff = backoff or Backoff()
        self.sent = 0
        self._hold_until_ms = 0  # after a retried failure the destination rests till then
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    def step(self) -> int | None:
        """Send what is due now; return when the next attempt is due (None: nothing waits)."""
        now = self.clock.now_ms()
        if now < self._hold_until_ms:
            return self._hold_until_ms
        for entry in self.store.outbox_due(now):
            try:
                try:
                    for destination in self.destinations:
                        destination.deliver(entry.body)
                except DeliveryFailed:
                    raise
                except Exception as exc:  # a destination's bug: this entry waits, not all
                    raise DeliveryFailed("outbox error", repr(exc)) from None
            except DeliveryFailed as failed:
                self.metrics.fail(failed.outcome)
                again = now + self.backoff.delay_ms(entry.attempts + 1) if failed.retry else None
                self.store.outbox_failed(entry.id, failed.outcome, again)
                if again is not None:
                    self._hold_until_ms = again
                    return again
                continue
            self.store.outbox_sent(entry.id)
            self.sent += 1
        return self.store.outbox_next_ms()

    def wake(self) -> None:
        """A new bundle is in the outbox: look now rather than at the next due time."""
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fhir-outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                due = self.step()
            except (DTHQError, sqlite3.Error):  # the store refused (locked, closed): counted
                self.metrics.fail("outbox error")
                due = self.clock.now_ms() + self.backoff.base_ms
            except Exception:  # a bug must not stop the sender: counted, tried again
                self.metrics.fail("outbox error")
                due = self.clock.now_ms() + self.backoff.base_ms
            wait_s = 1.0 if due is None else (due - self.clock.now_ms()) / 1000
            self._wake.wait(min(1.0, max(0.0, wait_s)))
            self._wake.clear()
