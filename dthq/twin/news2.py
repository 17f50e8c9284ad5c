"""NEWS2 (Royal College of Physicians, 2017) for the three parameters the devices measure.

A full NEWS2 also scores respiration rate, systolic blood pressure, consciousness and
supplemental oxygen; none of those is measured here, so every score this module gives
is labelled "partial NEWS2 (3 of 7 parameters)" and is never a full score.
"""

from __future__ import annotations

from dataclasses import dataclass

LABEL = "partial NEWS2 (3 of 7 parameters)"


def heart_rate(bpm: float) -> int:
    if bpm <= 40:
        return 3
    if bpm <= 50:
        return 1
    if bpm <= 90:
        return 0
    if bpm <= 110:
        return 1
    if bpm <= 130:
        return 2
    return 3


def spo2_scale1(percent: float) -> int:
    if percent <= 91:
        return 3
    if percent <= 93:
        return 2
    if percent <= 95:
        return 1
    return 0


def temperature(celsius: float) -> int:
    # The chart's bands are in 0.1 °C steps: 35.0 | 35.1-36.0 | 36.1-38.0 | 38.1-39.0 | 39.1.
    tenths = round(celsius * 10)
    if tenths <= 350:
        return 3
    if tenths <= 360:
        return 1
    if tenths <= 380:
        return 0
    if tenths <= 390:
        return 1
    return 2


@dataclass(frozen=True)
class PartialNEWS2:
    hr: int
    spo2: int
    temp: int
    label: str = LABEL

    @property
    def total(self) -> int:
        return self.hr + self.spo2 + self.temp

    @property
    def red(self) -> tuple[str, ...]:
        """Parameters scoring 3 on their own: NEWS2's single-parameter trigger."""
        return tuple(name for name in ("hr", "spo2", "temp") if getattr(self, name) == 3)


def score(hr: float, spo2: float, temp: float) -> PartialNEWS2:
    return PartialNEWS2(heart_rate(hr), spo2_scale1(spo2), temperature(temp))
