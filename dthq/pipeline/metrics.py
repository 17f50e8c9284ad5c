"""What a pipeline run measured: each reading's trace through the stages while it is in
flight, streamed into histograms when it settles; the counts, the alerts, bytes per hop
and CPU per party, summed up into a :class:`~dthq.harness.results.PipelineRun`.

Memory is bounded whatever the run's length: a trace lives only while its reading is in
flight (at most ``in_flight_max`` of them, the oldest evicted first), the latencies are
HDR histograms of fixed size, and the dashboard's live figures come from a window of the
``recent_max`` readings delivered last.

All parties of one run share this collector (they run in one process and read one
clock, ``time.perf_counter_ns``); it is measurement only, never a channel between them.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

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

# Readings sent and not yet settled: 6.5 s of the bench's heaviest load (10,000/s).
IN_FLIGHT_MAX = 65_536
RECENT_MAX = 2_048  # delivered readings recent() can look back over
RECENT_ALERTS = 256  # the alerts kept as raised (all are counted)
# The histograms: ns from 1 ns to an hour (longer is recorded as an hour) at 3
# significant digits, 264 KiB each.
HIGHEST_NS = 3_600 * 10**9
DIGITS = 3
E2E, ALERT_RELEVANT = "end to end", "alert relevant"
CLOUD_STAGES = ("decrypt", "twin", "fhir", "store")  # what a cloud alone sees (fleet)
# A reading seen at every hop: its stages in Trace.stages()'s order, then end to end.
FULL = ("acquire", "compress", "encrypt", "transmit", "gateway", *CLOUD_STAGES, E2E)


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


def histogram() -> HdrHistogram:
    return HdrHistogram(1, HIGHEST_NS, DIGITS)


@dataclass(slots=True)
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
        """Seconds per stage (the ones with both ends seen; a reading this collector did
        not see sent, as a cloud alone takes them, has the cloud's stages only)."""
        if not self.sent_ns:
            return {
                "decrypt": self.gw_decrypt + self.decrypt,
                "twin": self.twin,
                "fhir": self.fhir,
                "store": self.store,
            }
        out = {"acquire": self.acquire, "compress": self.compress, "encrypt": self.encrypt}
        if self.gw_in_ns and self.cloud_in_ns and self.gw_out_ns:
            out["transmit"] = (
                self.gw_in_ns - self.sent_ns + self.cloud_in_ns - self.gw_out_ns
            ) / 1e9
            out["gateway"] = (self.gw_out_ns - self.gw_in_ns) / 1e9 - self.gw_decrypt
        out["decrypt"] = self.gw_decrypt + self.decrypt
        out.update(twin=self.twin, fhir=self.fhir, store=self.store)
        return out

    @property
    def end_to_end_s(self) -> float | None:
        return (self.done_ns - self.start_ns) / 1e9 if self.sent_ns and self.done_ns else None


class Recorder:
    """Records into one HDR histogram exactly as its ``record_value`` does, at a fraction
    of the cost (every delivered reading records ten values): the counts index is
    worked out inline, with ``int.bit_length`` for hdrh's count of leading zeros."""

    __slots__ = ("_counts", "_half", "_half_mag", "_mask", "_shift", "_unit", "histogram")

    def __init__(self, h: HdrHistogram) -> None:
        self.histogram = h
        self._counts = h.counts
        self._mask, self._unit = h.sub_bucket_mask, h.unit_magnitude
        self._half_mag, self._half = h.sub_bucket_half_count_magnitude, h.sub_bucket_half_count
        self._shift = self._unit + self._half_mag + 1

    def record(self, seconds: float) -> None:
        # A stage computed from two stamps can come out a few ns below zero: it took none.
        v = round(seconds * 1e9)
        v = 0 if v < 0 else HIGHEST_NS if v > HIGHEST_NS else v
        bucket = (v | self._mask).bit_length() - self._shift
        self._counts[
            ((bucket + 1) << self._half_mag) + (v >> (bucket + self._unit)) - self._half
        ] += 1
        h = self.histogram
        h.total_count += 1
        if v < h.min_value:
            h.min_value = v
        if v > h.max_value:
            h.max_value = v


class _CPU:
    """Thread CPU time spent inside a ``with`` block, charged to a party on the way out
    (a class, not a generator: it is entered once per reading)."""

    __slots__ = ("_metrics", "_party", "_start")

    def __init__(self, metrics: Metrics, party: str) -> None:
        self._metrics, self._party = metrics, party

    def __enter__(self) -> None:
        self._start = time.thread_time()

    def __exit__(self, *exc: object) -> None:
        spent = time.thread_time() - self._start
        m = self._metrics
        with m._lock:
            m.cpu_s[self._party] += spent


def timestamp_in(payload: bytes) -> int | None:
    """A refused reading's timestamp, if its JSON has one (it failed validation)."""
    try:
        ts = json.loads(payload).get("ts")
    except (ValueError, AttributeError):
        return None
    return ts if isinstance(ts, int) and not isinstance(ts, bool) else None


@dataclass
class Metrics:
    traces: dict[Key, Trace] = field(default_factory=dict)  # in flight, oldest first
    counts: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # first message per reason
    alerts: deque[tuple[str, int, int, str]] = field(  # pid, ts, ns, why: the latest
        default_factory=lambda: deque(maxlen=RECENT_ALERTS)
    )
    onsets: dict[str, int] = field(default_factory=dict)  # pid -> scripted onset, ms
    bytes_up: Counter[str] = field(default_factory=Counter)
    wire: Counter[str] = field(default_factory=Counter)  # bytes by kind: "handshake in", ...
    cpu_s: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # by outcome: "fhir 5xx", ...
    in_flight_max: int = IN_FLIGHT_MAX
    recent_max: int = RECENT_MAX
    histograms: dict[str, HdrHistogram] = field(default_factory=dict)  # by stage, E2E, ...
    delivered: int = 0  # readings sent here and delivered (counted once each)
    evicted: int = 0  # traces of sent readings dropped unsettled (lost, or late)
    alert_count: int = 0
    _recent: deque[Trace] = field(default_factory=deque)
    # Keys of evicted readings, so that one arriving late still counts as delivered;
    # bounded like the traces (a reading later than that counts as lost).
    _evicted_keys: dict[Key, None] = field(default_factory=dict)
    _first_alert: dict[str, int] = field(default_factory=dict)  # pid -> ts, after its onset
    _recorders: dict[str, Recorder] = field(default_factory=dict)  # into ``histograms``
    _full: tuple[Recorder, ...] = ()  # FULL's, once a reading had every stamp
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._recent = deque(maxlen=self.recent_max)

    def trace(self, key: Key) -> Trace:
        """The trace of a reading in flight (new if it is not: being sent, or one this
        collector did not see sent)."""
        with self._lock:
            trace = self.traces.get(key)
            if trace is None:
                trace = self.traces[key] = Trace()
                if len(self.traces) > self.in_flight_max:
                    self._evict()
            return trace

    def _evict(self) -> None:
        key = next(iter(self.traces))
        if self.traces.pop(key).sent_ns:  # not a duplicate or a cloud-only trace
            self.evicted += 1
            self._evicted_keys[key] = None
            if len(self._evicted_keys) > self.in_flight_max:
                del self._evicted_keys[next(iter(self._evicted_keys))]

    def deliver(self, key: Key) -> None:
        """The reading reached the twin and the store (its trace's ``done_ns`` set): its
        times go into the histograms and the recent window, its trace goes."""
        with self._lock:
            trace = self.traces.pop(key, None)
            if trace is None:
                return
            if trace.sent_ns:
                self.delivered += 1
            elif key in self._evicted_keys:  # sent, evicted, and arrived after all
                del self._evicted_keys[key]
                self.delivered += 1
            t = trace
            if t.sent_ns and t.gw_in_ns and t.gw_out_ns and t.cloud_in_ns and t.done_ns:
                # Every stamp seen, as nearly every reading has them: the values stages()
                # and end_to_end_s give, in FULL's order, without building their dict.
                e2e = (t.done_ns - t.start_ns) / 1e9
                values = (t.acquire, t.compress, t.encrypt,
                          (t.gw_in_ns - t.sent_ns + t.cloud_in_ns - t.gw_out_ns) / 1e9,
                          (t.gw_out_ns - t.gw_in_ns) / 1e9 - t.gw_decrypt,
                          t.gw_decrypt + t.decrypt, t.twin, t.fhir, t.store, e2e)  # fmt: skip
                full = self._full or self._full_recorders()
                for recorder, seconds in zip(full, values, strict=True):
                    recorder.record(seconds)
                if t.alert_relevant:
                    self._recorder(ALERT_RELEVANT).record(e2e)
                self._recent.append(t)
                return
            recorders = self._recorders
            for name, seconds in trace.stages().items():
                (recorders.get(name) or self._recorder(name)).record(seconds)
            e2e = trace.end_to_end_s
            if e2e is not None:
                (recorders.get(E2E) or self._recorder(E2E)).record(e2e)
                if trace.alert_relevant:
                    (recorders.get(ALERT_RELEVANT) or self._recorder(ALERT_RELEVANT)).record(e2e)
                self._recent.append(trace)

    def _recorder(self, name: str) -> Recorder:
        """The stage's histogram, made when its first value comes (a stage no reading
        had stays out of the summary)."""
        recorder = self._recorders.get(name)
        if recorder is None:
            h = self.histograms[name] = histogram()
            recorder = self._recorders[name] = Recorder(h)
        return recorder

    def _full_recorders(self) -> tuple[Recorder, ...]:
        self._full = tuple(self._recorder(name) for name in FULL)
        return self._full

    def refuse_sent(self, pid: str | None, payload: bytes) -> None:
        """A genuine device's reading refused as invalid: settled, not lost."""
        self.refuse(pid, timestamp_in(payload))

    def refuse(self, pid: str | None, ts: int | None) -> None:
        """A sent reading refused for good (invalid, from the future): settled, counted
        once. Sent again before its receipt came, it is refused again and not counted
        again: only a reading still in flight (its trace here) counts, so ``lost`` is
        never understated; one whose trace was evicted is counted lost, never hidden."""
        with self._lock:
            if pid is None or ts is None:
                self.counts["rejected_sent"] += 1  # no key to tell a second refusal by
            elif (trace := self.traces.pop((pid, ts), None)) is not None and trace.sent_ns:
                # sent here, and in flight: a resend's trace (the gateway's, no send
                # stamp) is not a second reading
                self.counts["rejected_sent"] += 1

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

    def wire_total(self) -> int:
        """Every byte counted on the wire so far: it stands still when the traffic has."""
        with self._lock:
            return sum(self.wire.values())

    def alert(self, pid: str, ts: int, reason: str) -> None:
        """Counted; kept only if among the latest, or the first after ``pid``'s onset
        (the onsets are set before the readings flow)."""
        with self._lock:
            self.alert_count += 1
            self.alerts.append((pid, ts, time.perf_counter_ns(), reason))
            onset = self.onsets.get(pid)
            if onset is not None and ts >= onset:
                self._first_alert[pid] = min(ts, self._first_alert.get(pid, ts))

    def cpu(self, party: str) -> AbstractContextManager[None]:
        """Thread CPU time spent inside the block, charged to ``party``."""
        return _CPU(self, party)

    def recent(self, n: int = 500) -> dict[str, float]:
        """p50 ms of each stage and end to end (p50, p99) over the last ``n`` delivered
        readings (at most ``recent_max``): the dashboard's live figures."""
        with self._lock:
            done = list(self._recent)[-n:] if n > 0 else []
        if not done:
            return {}
        out = {}
        stages = [t.stages() for t in done]
        for name in STAGES:
            values = [s[name] for s in stages if name in s]
            if values:
                out[name] = quantile(values, 0.5) * 1000
        e2e = [(t.done_ns - t.start_ns) / 1e6 for t in done]
        out["e2e_p50"], out["e2e_p99"] = quantile(e2e, 0.5), quantile(e2e, 0.99)
        return out

    def medians_ms(self, stages: tuple[str, ...] = CLOUD_STAGES) -> dict[str, float]:
        """Median ms of each stage over every delivered reading (the fleet's twin)."""
        with self._lock:
            found = {s: self.histograms[s] for s in stages if s in self.histograms}
            return {s: Distribution.from_histogram(h, 1000).median for s, h in found.items()}

    def settled(self) -> tuple[int, int]:
        """(readings delivered or refused as invalid, readings sent) so far."""
        with self._lock:
            return self.delivered + self.counts["rejected_sent"], self.counts["sent"]

    def summary(self, **run: object) -> PipelineRun:
        """The run's figures; ``run`` gives the settings (transport, broker, ...)."""
        with self._lock:
            dists = {k: Distribution.from_histogram(h, 1000) for k, h in self.histograms.items()}
            counts = Counter(self.counts)
            rejected = dict(self.rejected)
            failures = dict(self.failures)
            delivered, alerts = self.delivered, self.alert_count
            first = dict(self._first_alert)
        sent = counts["sent"]
        duration = float(run["duration_s"])  # type: ignore[arg-type]
        delays = [(first[pid] - onset) / 1000 for pid, onset in self.onsets.items() if pid in first]
        return PipelineRun(
            stages={k: dists[k] for k in STAGES if k in dists},
            end_to_end=dists.get(E2E),
            alert_relevant=dists.get(ALERT_RELEVANT),
            offered_per_s=float(run.pop("offered_per_s")),  # type: ignore[arg-type]
            sent_per_s=sent / duration if duration else 0.0,
            delivered_per_s=delivered / duration if duration else 0.0,
            counts={
                "sent": sent,
                "delivered": delivered,
                "rejected": sum(rejected.values()),
                "lost": max(0, sent - delivered - counts["rejected_sent"]),
                "duplicated": counts["duplicated"],
                "dropped": counts["dropped"],
                # Readings a device's resend buffer let go (sent, but not to be resent):
                # not lost unless ``lost`` says so, but no longer guarded end to end.
                "unsettled_dropped": counts["unsettled dropped"],
            },
            rejected=rejected,
            rejection_examples=dict(self.examples),
            alerts=alerts,
            detection_delay_s=Distribution.from_samples(delays) if delays else None,
            bytes_up=dict(self.bytes_up),
            cpu_s=dict(self.cpu_s),
            failures=failures,
            **run,  # type: ignore[arg-type]
        )
