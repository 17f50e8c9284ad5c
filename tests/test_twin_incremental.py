"""The twin's O(1) update against the implementation it replaced, kept here verbatim as
the reference: the same alerts, score, history, duplicate and late counts, and JSON, for
readings in order, out of order, repeated, past HISTORY, and wavering across band edges."""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from dthq.twin import news2
from dthq.twin import twin as twin_module
from dthq.twin.reading import Reading
from dthq.twin.twin import Alert, PatientTwin, _slope_per_min

HISTORY = 600  # the reference's own, patched with the module's in `constants`
TREND_WINDOW = 60

# Each band's edges, either side: a patient wavering across them.
HR = [40, 41, 50, 51, 90, 91, 110, 111, 130, 131]
SPO2 = [91, 92, 93, 94, 95, 96]
TEMP = [35.0, 35.1, 36.0, 36.1, 38.0, 38.1, 39.0, 39.1]


# ---- the reference: PatientTwin as it was, verbatim but for its name ----


@dataclass
class ReferenceTwin:
    pid: str
    history: list[Reading] = field(default_factory=list)  # sorted by ts, at most HISTORY
    score: news2.PartialNEWS2 | None = None
    alerts: list[Alert] = field(default_factory=list)
    duplicates: int = 0
    late: int = 0  # applied out of order (older than the latest)

    @property
    def latest(self) -> Reading | None:
        return self.history[-1] if self.history else None

    def trend(self, vital: str) -> float:
        recent = self.history[-TREND_WINDOW:]
        return _slope_per_min([(r.ts, getattr(r, vital)) for r in recent])

    def trends(self) -> dict[str, float]:
        return {v: round(self.trend(v), 3) for v in ("hr", "spo2", "temp")}

    def to_json(self) -> dict[str, Any]:
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
        at = bisect.bisect_left(self.history, ts, key=lambda r: r.ts)
        return at < len(self.history) and self.history[at].ts == ts

    def apply(self, reading: Reading) -> Alert | None:
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
        alert = _reference_escalation(latest, previous, self.score, recent)
        if alert:
            self.alerts.append(alert)
        return alert


def _reference_escalation(
    reading: Reading,
    before: news2.PartialNEWS2 | None,
    now: news2.PartialNEWS2,
    recent: list[news2.PartialNEWS2],
) -> Alert | None:
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


# ---- the comparison ----


@contextmanager
def constants(history: int, window: int) -> Iterator[None]:
    """Both implementations with the same (smaller) bounds, so short runs reach them."""
    with (
        mock.patch.object(twin_module, "HISTORY", history),
        mock.patch.object(twin_module, "TREND_WINDOW", window),
        mock.patch(f"{__name__}.HISTORY", history),
        mock.patch(f"{__name__}.TREND_WINDOW", window),
    ):
        yield


def reading(ts: int, hr: float, spo2: float, temp: float) -> Reading:
    return Reading("P1", ts, float(hr), float(spo2), float(temp))


def same_as_reference(readings: list[Reading]) -> None:
    new, ref = PatientTwin("P1"), ReferenceTwin("P1")
    for r in readings:
        assert new.holds(r.ts) == ref.holds(r.ts)
        assert new.apply(r) == ref.apply(r)
        assert new.score == ref.score
        assert (new.duplicates, new.late) == (ref.duplicates, ref.late)
    assert new.history == ref.history
    assert new.alerts == ref.alerts
    assert new.latest == ref.latest
    assert new.to_json() == ref.to_json()


vitals = st.tuples(st.sampled_from(HR), st.sampled_from(SPO2), st.sampled_from(TEMP))
# Mostly forward, sometimes back (late) or onto a timestamp already seen (a duplicate).
steps = st.lists(st.tuples(st.integers(-6, 3), vitals), max_size=120)


def timeline(found: list[tuple[int, tuple[int, int, float]]]) -> list[Reading]:
    out, ts = [], 1000
    for step, (hr, spo2, temp) in found:
        ts = max(0, ts + step)
        out.append(reading(ts, hr, spo2, temp))
        ts = max(ts, max(r.ts for r in out))  # the next step moves from the latest
    return out


@given(steps, st.integers(2, 12), st.integers(1, 6))
def test_small_bounds_match_the_reference(
    found: list[tuple[int, tuple[int, int, float]]], history: int, extra: int
) -> None:
    window = max(2, history - extra)  # HISTORY >= TREND_WINDOW, as the module's are
    with constants(history, window):
        same_as_reference(timeline(found))


@settings(max_examples=15)
@given(st.integers(0, 2**32 - 1))
def test_real_bounds_past_history_match_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    ts, found = 0, []
    for _ in range(rng.randint(twin_module.HISTORY + 1, twin_module.HISTORY + 300)):
        roll = rng.random()
        if roll < 0.08 and found:  # late, up to past the history's start
            at = max(0, ts - rng.randint(1, 800) * 1000) + rng.randint(1, 999)
        elif roll < 0.12 and found:
            at = rng.choice(found).ts  # a duplicate
        else:
            ts += 1000
            at = ts
        found.append(reading(at, rng.choice(HR), rng.choice(SPO2), rng.choice(TEMP)))
    same_as_reference(found)


def test_a_red_parameter_just_inside_the_window_suppresses_its_alert() -> None:
    """Red TREND_WINDOW - 1 readings back is in the window (no alert); TREND_WINDOW back
    it has left it (an alert)."""
    for back, alerted in ((twin_module.TREND_WINDOW - 1, False), (twin_module.TREND_WINDOW, True)):
        twin = PatientTwin("P1")
        twin.apply(reading(0, 131, 96, 37.0))  # hr scores 3
        for i in range(1, back):
            twin.apply(reading(i * 1000, 70, 96, 37.0))
        alert = twin.apply(reading(back * 1000, 131, 96, 37.0))
        assert (alert is not None) == alerted
        if alerted:
            assert alert.reason == "hr scores 3" and alert.previous_total == 0


def test_to_json_news2_is_asdict_with_the_total() -> None:
    twin = PatientTwin("P1")
    twin.apply(reading(1000, 131, 93, 39.1))
    assert twin.to_json()["news2"] == {
        "hr": 3, "spo2": 2, "temp": 2, "label": news2.LABEL, "total": 7,
    }  # fmt: skip


def test_trimming_keeps_the_last_history_readings_across_compactions() -> None:
    twin = PatientTwin("P1")
    n = 3 * twin_module.HISTORY + 7
    for i in range(n):
        twin.apply(reading(i, 70, 96, 37.0))
    assert len(twin.history) == twin_module.HISTORY
    assert twin.history[0].ts == n - twin_module.HISTORY and twin.latest.ts == n - 1
    assert not twin.holds(n - twin_module.HISTORY - 1) and twin.holds(n - twin_module.HISTORY)
    assert twin.recent(3) == twin.history[-3:] and twin.recent(0) == []
