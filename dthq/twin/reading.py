"""A reading as the twin accepts it: parsed strictly, checked against physiological
ranges, or refused with the reason (counted and reported by the pipeline)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from dthq.errors import DecodeError

# What a living adult can show, and what the sensors can report; outside is a fault.
RANGES = {"hr": (20.0, 250.0), "spo2": (50.0, 100.0), "temp": (30.0, 43.0)}
FIELDS = {"pid", "ts", "hr", "spo2", "temp", "dev", "ppg"}
MAX_ID = 64
MAX_PPG = 128 << 20  # characters: the §7.1 sweep's largest messages (100 MB) fit


class ReadingError(DecodeError):
    """A reading the twin refuses: malformed, or out of physiological range."""


@dataclass(frozen=True)
class Reading:
    pid: str
    ts: int  # ms since the epoch, from the (authenticated) reading
    hr: float
    spo2: float
    temp: float
    dev: str = ""
    ppg: str = ""  # the PPG window sent with the reading (base64), "" for vitals alone

    @classmethod
    def from_dict(cls, data: Any) -> Reading:
        if not isinstance(data, dict):
            raise ReadingError("a reading is a JSON object")
        missing = {"pid", "ts", "hr", "spo2", "temp"} - data.keys()
        if missing:
            raise ReadingError(f"reading lacks {', '.join(sorted(missing))}")
        unknown = data.keys() - FIELDS
        if unknown:
            raise ReadingError(f"reading has unknown fields {', '.join(sorted(unknown))}")
        pid, ts, dev, ppg = data["pid"], data["ts"], data.get("dev", ""), data.get("ppg", "")
        if not isinstance(pid, str) or not 1 <= len(pid) <= MAX_ID:
            raise ReadingError(f"pid must be a string of 1..{MAX_ID} characters")
        if not isinstance(dev, str) or len(dev) > MAX_ID:
            raise ReadingError(f"dev must be a string of at most {MAX_ID} characters")
        if not (pid.isprintable() and dev.isprintable()):
            # A control character or a lone surrogate has no place in a FHIR string.
            raise ReadingError("pid and dev must be printable (no control characters)")
        if not isinstance(ppg, str) or len(ppg) > MAX_PPG:
            raise ReadingError(f"ppg must be a string of at most {MAX_PPG} characters")
        if not isinstance(ts, int) or isinstance(ts, bool) or ts < 0:
            raise ReadingError("ts must be a non-negative integer (ms since the epoch)")
        values = {}
        for name, (low, high) in RANGES.items():
            value = data[name]
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ReadingError(f"{name} must be a number")
            if not math.isfinite(value) or not low <= value <= high:
                raise ReadingError(f"{name} {value} is outside {low:g}..{high:g}")
            values[name] = float(value)
        return cls(pid, ts, dev=dev, ppg=ppg, **values)

    def to_dict(self) -> dict[str, Any]:
        """The reading as it travels, in field order, without ``ppg`` when there is none.
        Built by hand: every reading crosses the gateway and the store through it, and
        ``dataclasses.asdict`` deep-copies each field on the way."""
        out = {"pid": self.pid, "ts": self.ts, "hr": self.hr, "spo2": self.spo2,
               "temp": self.temp, "dev": self.dev}  # fmt: skip
        if self.ppg:
            out["ppg"] = self.ppg
        return out

    @classmethod
    def from_bytes(cls, raw: bytes) -> Reading:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ReadingError(f"reading is not JSON: {exc}") from None
        return cls.from_dict(data)
