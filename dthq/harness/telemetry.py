"""Seeded, reproducible sensor telemetry like the paper's devices (§3.3).

- MAX30102 pulse oximeter: heart rate, SpO2, and the infrared PPG waveform it
  samples (here 100 samples/s, 18-bit ADC counts: a large DC level with a ~1.5 %
  pulsatile component, systolic peak plus dicrotic notch).
- MLX90614 infrared thermometer: body temperature in °C (0.02 °C resolution).

Vitals follow a slow random walk around a per-patient baseline, heart rate with
respiratory sinus arrhythmia, so consecutive readings look like a resting adult. A
patient can be scripted to deteriorate after a given time (``deteriorate_after_s``):
heart rate and temperature climb and SpO2 falls, so the twin's alerts have something
to find.
The same seed gives the same bytes on every machine.
"""

from __future__ import annotations

import base64
import json
import math
import random
from dataclasses import dataclass

import numpy as np

from dthq.errors import UnsupportedError

PPG_RATE_HZ = 100
SIZES = {"small": 0, "medium": 4096, "large": 16384}  # 0: one reading, ~100 B


@dataclass
class _Vitals:
    hr: float
    spo2: float
    temp: float


# A scripted deterioration (sepsis-like): after onset the baselines drift at these rates
# per second until the limits, and the vitals follow them through their random walks.
DETERIORATION = {"hr": (0.5, 150.0), "spo2": (-0.05, 86.0), "temp": (0.01, 39.6)}


class TelemetryGenerator:
    def __init__(
        self,
        seed: int = 0,
        patient: str = "P0001",
        start_ms: int = 1_767_225_600_000,
        deteriorate_after_s: float | None = None,
        deterioration_speed: float = 1.0,
    ):
        """``deterioration_speed`` multiplies the drift rates: the pipeline's short runs
        use a faster, still scripted, deterioration so alerts come within seconds."""
        self._rng = random.Random(seed)
        self._speed = deterioration_speed
        self.patient = patient
        self._t_ms = start_ms
        self._onset_ms = (
            None if deteriorate_after_s is None else start_ms + int(deteriorate_after_s * 1000)
        )
        rng = self._rng
        self._baseline = _Vitals(
            rng.uniform(60, 85), rng.uniform(96.0, 99.0), rng.uniform(36.4, 37.0)
        )
        self._now = _Vitals(self._baseline.hr, self._baseline.spo2, self._baseline.temp)
        self._phase = 0.0  # cardiac phase, in beats
        self._dc = rng.uniform(90_000, 120_000)

    def _step(self, seconds: float) -> None:
        """Euler steps of at most a second: one step of minutes (a reading every 200 s in
        the §7.1 sweep's 100 MB point) overshoots the mean and the walk diverges."""
        while seconds > 1.0:
            self._step_once(1.0)
            seconds -= 1.0
        self._step_once(seconds)

    def _step_once(self, seconds: float) -> None:
        """Mean-reverting random walk (Ornstein-Uhlenbeck) of each vital sign."""
        rng, b, v = self._rng, self._baseline, self._now
        if self._onset_ms is not None and self._t_ms >= self._onset_ms:
            for name, (rate, limit) in DETERIORATION.items():
                moved = getattr(b, name) + rate * self._speed * seconds
                setattr(b, name, min(moved, limit) if rate > 0 else max(moved, limit))
        v.hr += 0.05 * (b.hr - v.hr) * seconds + rng.gauss(0, 0.6) * math.sqrt(seconds)
        v.spo2 += 0.1 * (b.spo2 - v.spo2) * seconds + rng.gauss(0, 0.1) * math.sqrt(seconds)
        v.temp += 0.01 * (b.temp - v.temp) * seconds + rng.gauss(0, 0.005) * math.sqrt(seconds)
        v.spo2 = min(v.spo2, 100.0)
        self._t_ms += int(seconds * 1000)

    def _ppg(self, count: int) -> list[int]:
        """IR PPG samples: each beat a systolic Gaussian plus a smaller dicrotic wave."""
        rng = self._rng
        samples = []
        for i in range(count):
            t = i / PPG_RATE_HZ
            breathing = 0.04 * math.sin(2 * math.pi * 0.25 * t)  # sinus arrhythmia, 15/min
            self._phase += self._now.hr * (1 + breathing) / 60 / PPG_RATE_HZ
            x = self._phase % 1.0
            pulse = math.exp(-((x - 0.2) ** 2) / 0.006) + 0.35 * math.exp(-((x - 0.5) ** 2) / 0.01)
            ac = 0.015 * self._dc * pulse
            wander = 0.003 * self._dc * math.sin(2 * math.pi * 0.25 * t)
            samples.append(int(self._dc - ac + wander + rng.gauss(0, 25)))
        return samples

    def ppg_window(self, chars: int) -> str:
        """The next ``chars // 4`` IR PPG samples as base64 of 3-byte little-endian ADC
        counts (4 characters a sample): the waveform the §7.1 sweep's large messages carry.
        Vectorised (a 100 MB message holds 25 million samples), at the current heart rate,
        with the sensor's noise drawn from a generator seeded by this one."""
        n = chars // 4
        t = np.arange(n) / PPG_RATE_HZ
        breathing = 0.04 * np.sin(2 * np.pi * 0.25 * t)
        phase = self._phase + np.cumsum(self._now.hr * (1 + breathing) / 60 / PPG_RATE_HZ)
        self._phase = float(phase[-1]) if n else self._phase
        x = phase % 1.0
        pulse = np.exp(-((x - 0.2) ** 2) / 0.006) + 0.35 * np.exp(-((x - 0.5) ** 2) / 0.01)
        noise = np.random.default_rng(self._rng.getrandbits(64)).normal(0, 25, n)
        wander = 0.003 * self._dc * np.sin(2 * np.pi * 0.25 * t)
        counts = (self._dc - 0.015 * self._dc * pulse + wander + noise).astype("<u4")
        packed = counts.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
        return base64.b64encode(packed).decode()

    def reading(self, seconds: float = 1.0) -> dict[str, object]:
        """One sensor reading, ``seconds`` after the last: the paper's 'small' payload."""
        self._step(seconds)
        v = self._now
        return {
            "pid": self.patient,
            "ts": self._t_ms,
            "hr": round(v.hr),
            "spo2": round(v.spo2, 1),
            "temp": round(v.temp * 50) / 50,  # MLX90614: 0.02 °C steps
            "dev": "MAX30102+MLX90614",
        }

    def payload(self, size: str) -> bytes:
        """JSON bytes: ``small`` is one reading; ``medium``/``large`` are exactly 4/16 KiB
        windows of readings with their PPG samples."""
        if size not in SIZES:
            raise UnsupportedError(f"unknown data size {size!r}; choose {', '.join(SIZES)}")
        if size == "small":
            return encode(self.reading())
        limit = SIZES[size]
        window: dict[str, object] = {"pid": self.patient, "rate_hz": PPG_RATE_HZ, "readings": []}
        readings: list[dict[str, object]] = window["readings"]  # type: ignore[assignment]
        while True:
            reading = self.reading()
            samples = self._ppg(PPG_RATE_HZ // 4)
            reading["ppg_ir"] = samples
            readings.append(reading)
            if len(encode(window)) <= limit:
                continue
            # Fill the window with as many of the last reading's samples as fit.
            while samples and len(encode(window)) > limit:
                samples.pop()
            if len(encode(window)) > limit:
                readings.pop()
            return _pad(encode(window), limit)


def encode(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _pad(data: bytes, limit: int) -> bytes:
    """A few bytes of trailing JSON whitespace, so every window is exactly ``limit`` bytes."""
    return data + b" " * (limit - len(data))
