"""Each patient's digital twin: latest vitals, a bounded history ordered by the readings'
authenticated timestamps, a trend, a partial NEWS2 score, and alerts on escalation."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from dthq.twin import news2
from dthq.twin.reading import Reading

HISTORY = 600  # readings kept per patient (10 minutes at 1 Hz)
TREND_WINDOW = 60  # readings the trend is fitted over
# How far ahead of the receiver's clock a reading may be dated (the record layer's
# Freshness.max_skew_ms): further, it would stay the latest reading and freeze the twin.
MAX_SKEW_MS = 2_000


@dataclass(frozen=True)
class Alert:
    """An escalation: a parameter newly scoring 3, or the partial NEWS2 total rising."""

    pid: str
    ts: int  # the reading that raised it
    score: news2.PartialNEWS2
    previous_total: int
    reason: str


def _slope_per_min(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of value against time, per minute (0 with fewer than 2)."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * 60_000


@dataclass
class PatientTwin:
    pid: str
    history: list[Reading] = field(default_factory=list)  # sorted by ts, at most HISTORY
    score: news2.PartialNEWS2 | None = None
    alerts: list[Alert] = field(default_factory=list)
    duplicates: int = 0
    late: int = 0  # applied out of order (older than the latest)
    future: int = 0  # left out when rebuilt: dated beyond the clock's skew (from_readings)

    @classmethod
    def from_readings(
        cls, pid: str, readings: Iterable[Reading], now_ms: int | None = None
    ) -> PatientTwin:
        """The twin rebuilt from stored readings (``dthq twin show``). Given ``now_ms``,
        a reading dated more than ``MAX_SKEW_MS`` after it is left out (counted in
        ``future``): an old store may hold one, and it would freeze the twin."""
        twin = cls(pid)
        for reading in readings:
            if now_ms is not None and reading.ts > now_ms + MAX_SKEW_MS:
                twin.future += 1
                continue
            twin.apply(reading)
        return twin

    @property
    def latest(self) -> Reading | None:
        return self.history[-1] if self.history else None

    def trend(self, vital: str) -> float:
        """Change per minute of ``hr``, ``spo2`` or ``temp`` over the recent window."""
        recent = self.history[-TREND_WINDOW:]
        return _slope_per_min([(r.ts, getattr(r, vital)) for r in recent])

    def trends(self) -> dict[str, float]:
        """Each vital's change per minute, rounded as ``dthq twin show`` prints it."""
        return {v: round(self.trend(v), 3) for v in ("hr", "spo2", "temp")}

    def to_json(self) -> dict[str, Any]:
        """What ``dthq twin show --json`` prints."""
        score = self.score
        return {
            "patient": self.pid,
            "readings": len(self.history),
            "latest": self.latest.to_dict() if self.latest else None,
            "news2": {**asdict(score), "total": score.total} if score else None,
            "trend_per_min": self.trends(),
            "alerts": [
                {"ts": a.ts, "reason": a.reason, "total": a.score.total} for a in self.alerts
            ],
        }

    def holds(self, ts: int) -> bool:
        """A reading with this timestamp is in the history (a second one is a duplicate)."""
        at = bisect.bisect_left(self.history, ts, key=lambda r: r.ts)
        return at < len(self.history) and self.history[at].ts == ts

    def apply(self, reading: Reading) -> Alert | None:
        """Insert in timestamp order; a second reading with the same timestamp is a
        duplicate and changes nothing. The score follows the latest reading."""
        keys = [r.ts for r in self.history]
        at = bisect.bisect_left(keys, reading.ts)
        if at < len(keys) and keys[at] == reading.ts:
            self.duplicates += 1
            return None
        if at < len(keys):
            self.late += 1
        self.history.insert(at, reading)
        del self.history[:-HISTORY]
        latest = self.history[-1]
        if latest is not reading:
            return None  # a late reading updates history, not the current state
        previous = self.score
        self.score = news2.score(latest.hr, latest.spo2, latest.temp)
        recent = [news2.score(r.hr, r.spo2, r.temp) for r in self.history[-TREND_WINDOW:-1]]
        alert = _escalation(latest, previous, self.score, recent)
        if alert:
            self.alerts.append(alert)
        return alert


def _escalation(
    reading: Reading,
    before: news2.PartialNEWS2 | None,
    now: news2.PartialNEWS2,
    recent: list[news2.PartialNEWS2],
) -> Alert | None:
    """A parameter at 3 that was not at 3 anywhere in the recent window, or a total above
    every total of that window: a patient wavering across a band's edge raises one alert,
    not one a second."""
    previous = before.total if before else 0
    was_red = {p for s in recent for p in s.red}
    newly_red = [p for p in now.red if p not in was_red]
    if newly_red:
        reason = f"{', '.join(newly_red)} scores 3"
    elif recent and now.total > max(s.total for s in recent):
        reason = f"{news2.LABEL} rose from {previous} to {now.total}"
    else:
        return None
    return Alert(reading.pid, reading.ts, now, previous, reason)


class Twins:
    """All patients' twins."""

    def __init__(self) -> None:
        self._twins: dict[str, PatientTwin] = {}

    def apply(self, reading: Reading) -> Alert | None:
        twin = self._twins.setdefault(reading.pid, PatientTwin(reading.pid))
        return twin.apply(reading)

    def restore(self, twin: PatientTwin) -> None:
        """Put back a twin rebuilt from the store (a consumer restarting)."""
        self._twins[twin.pid] = twin

    def get(self, pid: str) -> PatientTwin | None:
        return self._twins.get(pid)

    def __getitem__(self, pid: str) -> PatientTwin:
        return self._twins[pid]

    def __contains__(self, pid: object) -> bool:
        return pid in self._twins

    def __iter__(self) -> Iterator[PatientTwin]:
        return iter(self._twins.values())

    def __len__(self) -> int:
        return len(self._twins)
