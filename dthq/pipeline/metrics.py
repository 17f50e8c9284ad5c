"""What a pipeline run measured: each reading's trace through the stages, the counts,
the alerts, bytes per hop and CPU per party, summed up into a
:class:`~dthq.harness.results.PipelineRun`.

All parties of one run share this collector (they run in one process and read one
clock, ``time.perf_counter_ns``); it is measurement only, never a channel between them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from dthq.errors import (
    AuthenticationError,
    DecodeError,
    FreshnessError,
    FutureError,
    ReplayError,
    StateError,
)
from dthq.harness.results import STAGES, Distribution, PipelineRun, quantile
from dthq.twin.reading import ReadingError

Key = tuple[str, int]  # (patient, reading timestamp): a reading's identity everywhere


def reason_of(exc: BaseException) -> str:
    """A rejection's category, for the counts (the message goes to the examples)."""
    if isinstance(exc, FutureError):
        return "from the future"
    if isinstance(exc, FreshnessError):
        return "stale"
    if isinstance(exc, ReplayError):
        return "replayed"
    if isinstance(exc, AuthenticationError):
        return "failed authentication"
    if isinstance(exc, ReadingError):
        return "invalid reading"
    if isinstance(exc, StateError):
        return "no session"
    if isinstance(exc, DecodeError):
        return "malformed"
    return "error"


@dataclass
class Trace:
    start_ns: int = 0  # acquisition began
    acquire: float = 0.0  # stage times in seconds
    compress: float = 0.0
    encrypt: float = 0.0
    sent_ns: int = 0
    gw_in_ns: int = 0
    gw_decrypt: float = 0.0
    gw_out_ns: int = 0
    cloud_in_ns: int = 0
    decrypt: float = 0.0
    twin: float = 0.0
    fhir: float = 0.0
    store: float = 0.0
    done_ns: int = 0
    alert_relevant: bool = False

    def stages(self) -> dict[str, float]:
        """Seconds per stage (the ones with both ends seen)."""
        out = {"acquire": self.acquire, "compress": self.compress, "encrypt": self.encrypt}
        if self.gw_in_ns and self.cloud_in_ns and self.gw_out_ns:
            out["transmit"] = (
                self.gw_in_ns - self.sent_ns + self.cloud_in_ns - self.gw_out_ns
            ) / 1e9
            out["gateway"] = (self.gw_out_ns - self.gw_in_ns) / 1e9 - self.gw_decrypt
        out["decrypt"] = self.gw_decrypt + self.decrypt
        out.update(twin=self.twin, fhir=self.fhir, store=self.store)
        return out


@dataclass
class Metrics:
    traces: dict[Key, Trace] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # first message per reason
    alerts: list[tuple[str, int, int, str]] = field(default_factory=list)  # pid, ts, ns, why
    onsets: dict[str, int] = field(default_factory=dict)  # pid -> scripted onset, ms
    bytes_up: Counter[str] = field(default_factory=Counter)
    wire: Counter[str] = field(default_factory=Counter)  # bytes by kind: "handshake in", ...
    cpu_s: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # by outcome: "fhir 5xx", ...
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def trace(self, key: Key) -> Trace:
        with self._lock:
            return self.traces.setdefault(key, Trace())

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] += n

    def reject(self, where: str, exc: BaseException, n: int = 1) -> None:
        reason = f"{where}: {reason_of(exc)}"
        with self._lock:
            self.rejected[reason] += n
            self.examples.setdefault(reason, str(exc))

    def fail(self, outcome: str, n: int = 1) -> None:
        """A failure the run must show (a FHIR attempt that failed, a store refusal)."""
        with self._lock:
            self.failures[outcome] += n

    def sent_bytes(self, hop: str, n: int) -> None:
        with self._lock:
            self.bytes_up[hop] += n

    def wire_bytes(self, what: str, n: int) -> None:
        with self._lock:
            self.wire[what] += n

    def alert(self, pid: str, ts: int, reason: str) -> None:
        with self._lock:
            self.alerts.append((pid, ts, time.perf_counter_ns(), reason))

    @contextmanager
    def cpu(self, party: str) -> Iterator[None]:
        """Thread CPU time spent inside the block, charged to ``party``."""
        start = time.thread_time()
        try:
            yield
        finally:
            spent = time.thread_time() - start
            with self._lock:
                self.cpu_s[party] += spent

    def recent(self, n: int = 500) -> dict[str, float]:
        """p50 ms of each stage and end to end (p50, p99) over the last ``n`` delivered
        readings: the dashboard's live figures."""
        with self._lock:
            done = [t for t in list(self.traces.values())[-4 * n :] if t.done_ns][-n:]
        if not done:
            return {}
        out = {}
        for name in STAGES:
            values = [t.stages()[name] for t in done if name in t.stages()]
            if values:
                out[name] = quantile(values, 0.5) * 1000
        e2e = [(t.done_ns - t.start_ns) / 1e6 for t in done]
        out["e2e_p50"], out["e2e_p99"] = quantile(e2e, 0.5), quantile(e2e, 0.99)
        return out

    def settled(self) -> tuple[int, int]:
        """(readings delivered or refused as invalid, readings sent) so far."""
        with self._lock:
            done = sum(1 for t in self.traces.values() if t.done_ns)
            return done + self.counts["rejected_sent"], self.counts["sent"]

    def summary(self, **run: object) -> PipelineRun:
        """The run's figures; ``run`` gives the settings (transport, broker, ...)."""
        with self._lock:
            traces = list(self.traces.values())
            counts = Counter(self.counts)
            rejected = dict(self.rejected)
            failures = dict(self.failures)
        done = [t for t in traces if t.done_ns]
        stages: dict[str, list[float]] = {name: [] for name in STAGES}
        for t in done:
            for name, seconds in t.stages().items():
                stages[name].append(seconds)
        e2e = [(t.done_ns - t.start_ns) / 1e9 for t in done]
        relevant = [(t.done_ns - t.start_ns) / 1e9 for t in done if t.alert_relevant]
        sent = counts["sent"]
        rejected_total = sum(rejected.values())
        delivered = len(done)
        duration = float(run["duration_s"])  # type: ignore[arg-type]
        delays = []
        for pid, onset in self.onsets.items():
            after = [ts for p, ts, _, _ in self.alerts if p == pid and ts >= onset]
            if after:
                first = min(after)
                delays.append((first - onset) / 1000)
        return PipelineRun(
            stages={k: Distribution.from_samples(v, 1000) for k, v in stages.items() if v},
            end_to_end=Distribution.from_samples(e2e, 1000) if e2e else None,
            alert_relevant=Distribution.from_samples(relevant, 1000) if relevant else None,
            offered_per_s=float(run.pop("offered_per_s")),  # type: ignore[arg-type]
            sent_per_s=sent / duration if duration else 0.0,
            delivered_per_s=delivered / duration if duration else 0.0,
            counts={
                "sent": sent,
                "delivered": delivered,
                "rejected": rejected_total,
                "lost": max(0, sent - delivered - counts["rejected_sent"]),
                "duplicated": counts["duplicated"],
                "dropped": counts["dropped"],
            },
            rejected=rejected,
            rejection_examples=dict(self.examples),
            alerts=len(self.alerts),
            detection_delay_s=Distribution.from_samples(delays) if delays else None,
            bytes_up=dict(self.bytes_up),
            cpu_s=dict(self.cpu_s),
            failures=failures,
            **run,  # type: ignore[arg-type]
        )
