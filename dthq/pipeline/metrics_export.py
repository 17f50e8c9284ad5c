"""Measurement across processes: each party process of a ``processes=True`` run keeps a
:class:`PartyMetrics`, writes :func:`export` at the end, and the runner :func:`merge` s
the exports into one :class:`~dthq.pipeline.metrics.Metrics` whose ``summary()`` is the
run's :class:`~dthq.harness.results.PipelineRun`, as if one collector had seen it all.

A reading's stamps are ``time.perf_counter_ns``, which on Linux is CLOCK_MONOTONIC: one
clock for every process on the machine, so a stamp the devices took and one the cloud
took subtract (the runner refuses ``processes=True`` off Linux).

Each party records what it saw under the reading's key (patient, ts): the devices'
start, acquire, compress, encrypt and sent; the gateway's in, decrypt and out; the
cloud's in, decrypt, twin, fhir, store and done. Unlike the in-process collector, which
folds a delivered reading into histograms and drops it, the cloud keeps each delivered
reading's stamps until the export. That record is bounded by the run: ``keep`` keys
(:func:`keep_for`: the readings the run can send, with room for resends), beyond which
the oldest go and are counted ("stamps dropped"), never silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from dthq.pipeline.metrics import Key, Metrics, Trace

FIELDS = tuple(f.name for f in fields(Trace))
KEEP_MAX = 2_000_000  # ~0.6 GB of stamps per party at most: bench runs are far below
Export = dict[str, Any]


def keep_for(patients: int, rate_hz: float, duration_s: float) -> int:
    """The stamps a party keeps: every reading the run offers, twice, and some."""
    return min(KEEP_MAX, 2 * math.ceil(patients * rate_hz * duration_s) + 10_000)


@dataclass
class PartyMetrics(Metrics):
    """One party's collector in its own process: delivered readings keep their stamps
    and refusals their keys, for the runner to settle against what the devices sent."""

    keep: int = KEEP_MAX
    done: dict[Key, Trace] = field(default_factory=dict)
    refused: list[tuple[str | None, int | None]] = field(default_factory=list)
    raised: list[tuple[str, int, int, str]] = field(default_factory=list)  # every alert

    def __post_init__(self) -> None:
        super().__post_init__()
        self.in_flight_max = max(self.in_flight_max, self.keep)

    def deliver(self, key: Key) -> None:
        with self._lock:
            trace = self.traces.pop(key, None)
            if trace is None:
                return
            self.done[key] = trace
            if len(self.done) > self.keep:
                del self.done[next(iter(self.done))]
                self.counts["stamps dropped"] += 1

    def refuse(self, pid: str | None, ts: int | None) -> None:
        with self._lock:
            if len(self.refused) < self.keep:
                self.refused.append((pid, ts))
            else:
                self.counts["stamps dropped"] += 1

    def alert(self, pid: str, ts: int, reason: str) -> None:
        super().alert(pid, ts, reason)
        with self._lock:
            if len(self.raised) < self.keep:
                self.raised.append(self.alerts[-1])

    def status(self) -> dict[str, int]:
        """What the runner's drain asks: sent here, delivered here, refused here."""
        with self._lock:
            return {
                "sent": self.counts["sent"],
                "delivered": len(self.done),
                "refused": len(self.refused),
            }


def _row(key: Key, trace: Trace) -> list[Any]:
    return [key[0], key[1], *(getattr(trace, f) for f in FIELDS)]


def export(m: PartyMetrics, **extra: Any) -> Export:
    """A JSON-ready export of everything ``m`` counted and stamped (``extra``: the
    party's own figures, e.g. its buses' reconnects)."""
    with m._lock:
        return {
            "counts": dict(m.counts),
            "rejected": dict(m.rejected),
            "examples": dict(m.examples),
            "failures": dict(m.failures),
            "bytes_up": dict(m.bytes_up),
            "wire": dict(m.wire),
            "onsets": dict(m.onsets),
            "alerts": [list(a) for a in m.raised],
            "alert_count": m.alert_count,
            "evicted": m.evicted,
            "in_flight": [_row(k, t) for k, t in m.traces.items()],
            "done": [_row(k, t) for k, t in m.done.items()],
            "refused": [list(r) for r in m.refused],
            **extra,
        }


def _fold(into: Trace, row: list[Any]) -> None:
    """The stamps one party took, into the reading's trace (the parties' fields are
    disjoint: a non-zero value is the one party's that set it)."""
    for name, value in zip(FIELDS, row[2:], strict=True):
        if value:
            setattr(into, name, value)


def merge(exports: list[Export]) -> Metrics:
    """One collector holding what every party's export saw: counts summed, each
    reading's stamps joined under its key, then delivered and refused as one collector
    would (a reading counts delivered once, and only if it was sent, as in process)."""
    rows = [r for e in exports for part in ("in_flight", "done") for r in e[part]]
    merged = Metrics(in_flight_max=max(1, len(rows) + 1))
    m = merged
    for e in exports:
        m.counts.update(e["counts"])
        m.rejected.update(e["rejected"])
        for reason, example in e["examples"].items():
            m.examples.setdefault(reason, example)
        m.failures.update(e["failures"])
        m.bytes_up.update(e["bytes_up"])
        m.wire.update(e["wire"])
        m.onsets.update(e["onsets"])
        m.evicted += e["evicted"]
    for row in rows:
        _fold(m.trace((row[0], row[1])), row)
    for e in exports:
        for pid, ts, *_ in e["done"]:
            m.deliver((pid, ts))
    for e in exports:
        for pid, ts in e["refused"]:
            m.refuse(pid, ts)
    alerts = sorted((tuple(a) for e in exports for a in e["alerts"]), key=lambda a: a[2])
    for pid, ts, _ns, reason in alerts:
        m.alert(pid, ts, reason)
    m.alerts.clear()
    m.alerts.extend(alerts[-(m.alerts.maxlen or 0) :])  # with the stamps they were raised at
    m.alert_count = sum(e["alert_count"] for e in exports)
    return merged
