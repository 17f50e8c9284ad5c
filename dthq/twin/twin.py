"""Each patient's digital twin: latest vitals, a bounded history ordered by the readings'
authenticated timestamps, a trend, a partial NEWS2 score, and alerts on escalation."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from dthq.twin import news2
from dthq.twin.reading import Reading

HISTORY = 600  # readings kept per patient (10 minutes at 1 Hz)
TREND_WINDOW = 60  # readings the trend is fitted over (and alerts compare against)
MAX_TOTAL = 9  # the three parameters' partial NEWS2 at most (3 each)
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


class _Window:
    """The escalation test's view of the readings before the latest: how many of them
    put each parameter at 3, and how many have each total. Kept as readings enter and
    leave it, so an in-order reading is judged without re-scoring the window."""

    __slots__ = ("red", "totals")

    def __init__(self) -> None:
        self.red: Counter[str] = Counter()
        self.totals = [0] * (MAX_TOTAL + 1)

    def add(self, score: news2.PartialNEWS2, n: int = 1) -> None:
        for name in score.red:
            self.red[name] += n
        self.totals[score.total] += n

    def highest(self) -> int | None:
        """The highest total in the window, None when it is empty."""
        for total in range(MAX_TOTAL, -1, -1):
            if self.totals[total]:
                return total
        return None


class PatientTwin:
    """One patient's twin. An in-order reading costs O(1) (amortised): each reading is
    scored once, the window's state is updated as readings enter and leave it, and the
    history is trimmed in bulk. A late one costs O(HISTORY)."""

    def __init__(self, pid: str) -> None:
        self.pid = pid
        self.score: news2.PartialNEWS2 | None = None
        self.alerts: list[Alert] = []
        self.duplicates = 0
        self.late = 0  # applied out of order (older than the latest)
        self.future = 0  # left out when rebuilt: dated beyond the clock's skew (from_readings)
        # Sorted by ts; entries before ``_start`` are trimmed (dropped in bulk, not one
        # at a time, so that trimming costs O(1) per reading, amortised).
        self._ts: list[int] = []
        self._readings: list[Reading] = []
        self._scores: list[news2.PartialNEWS2] = []
        self._start = 0
        self._window = _Window()  # over the last TREND_WINDOW - 1 readings kept

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
    def history(self) -> list[Reading]:
        """The readings kept, sorted by ts (at most HISTORY): a copy."""
        return self._readings[self._start :]

    @property
    def latest(self) -> Reading | None:
        return self._readings[-1] if len(self._readings) > self._start else None

    def recent(self, n: int) -> list[Reading]:
        """The last ``n`` readings kept (oldest first)."""
        return self._readings[max(self._start, len(self._readings) - n) :] if n > 0 else []

    def trend(self, vital: str) -> float:
        """Change per minute of ``hr``, ``spo2`` or ``temp`` over the recent window."""
        return _slope_per_min([(r.ts, getattr(r, vital)) for r in self.recent(TREND_WINDOW)])

    def trends(self) -> dict[str, float]:
        """Each vital's change per minute, rounded as ``dthq twin show`` prints it."""
        return {v: round(self.trend(v), 3) for v in ("hr", "spo2", "temp")}

    def to_json(self) -> dict[str, Any]:
        """What ``dthq twin show --json`` prints."""
        s, latest = self.score, self.latest
        return {
            "patient": self.pid,
            "readings": len(self._readings) - self._start,
            "latest": latest.to_dict() if latest else None,
            "news2": _score_json(s) if s else None,
            "trend_per_min": self.trends(),
            "alerts": [
                {"ts": a.ts, "reason": a.reason, "total": a.score.total} for a in self.alerts
            ],
        }

    def holds(self, ts: int) -> bool:
        """A reading with this timestamp is in the history (a second one is a duplicate)."""
        at = bisect.bisect_left(self._ts, ts, self._start)
        return at < len(self._ts) and self._ts[at] == ts

    def apply(self, reading: Reading) -> Alert | None:
        """Insert in timestamp order; a second reading with the same timestamp is a
        duplicate and changes nothing. The score follows the latest reading."""
        keys, ts = self._ts, reading.ts
        if len(keys) > self._start and ts > keys[-1]:  # in order: the common case
            return self._append(reading)
        at = bisect.bisect_left(keys, ts, self._start)
        if at < len(keys) and keys[at] == ts:
            self.duplicates += 1
            return None
        if at < len(keys):
            self.late += 1
            self._insert_late(at, reading)
            return None  # a late reading updates history, not the current state
        return self._append(reading)

    def _append(self, reading: Reading) -> Alert | None:
        previous = self.score
        score = news2.score(reading.hr, reading.spo2, reading.temp)
        alert = _escalation(reading, previous, score, self._window)
        self._ts.append(reading.ts)
        self._readings.append(reading)
        self._scores.append(score)
        # The window slides: this reading enters it, the one TREND_WINDOW - 1 back leaves.
        window = self._window
        window.add(score)
        leaving = len(self._scores) - TREND_WINDOW
        if leaving >= self._start:
            window.add(self._scores[leaving], -1)
        self._trim()
        self.score = score
        if alert:
            self.alerts.append(alert)
        return alert

    def _insert_late(self, at: int, reading: Reading) -> None:
        self._ts.insert(at, reading.ts)
        self._readings.insert(at, reading)
        self._scores.insert(at, news2.score(reading.hr, reading.spo2, reading.temp))
        self._trim()
        self._window = window = _Window()  # rebuilt: the late reading may have entered it
        for score in self._scores[max(self._start, len(self._scores) - TREND_WINDOW + 1) :]:
            window.add(score)

    def _trim(self) -> None:
        """Keep the last HISTORY readings; what goes is dropped once an eighth of HISTORY
        has gone (one move of the rest per HISTORY / 8 readings, at most 1/8 more held)."""
        self._start = max(self._start, len(self._ts) - HISTORY)
        if self._start > HISTORY // 8:
            for kept in (self._ts, self._readings, self._scores):
                del kept[: self._start]
            self._start = 0


def _score_json(s: news2.PartialNEWS2) -> dict[str, Any]:
    # By hand, as dataclasses.asdict would give it (fields in order), plus the total.
    return {"hr": s.hr, "spo2": s.spo2, "temp": s.temp, "label": s.label, "total": s.total}


def _escalation(
    reading: Reading,
    before: news2.PartialNEWS2 | None,
    now: news2.PartialNEWS2,
    recent: _Window,
) -> Alert | None:
    """A parameter at 3 that was not at 3 anywhere in the recent window, or a total above
    every total of that window: a patient wavering across a band's edge raises one alert,
    not one a second."""
    previous = before.total if before else 0
    newly_red = [p for p in now.red if not recent.red[p]]
    highest = recent.highest()
    if newly_red:
        reason = f"{', '.join(newly_red)} scores 3"
    elif highest is not None and now.total > highest:
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
