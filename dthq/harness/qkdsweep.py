"""The SIMULATED QKD figures the bench records: one sweep point, the smallest run that
yields a key, and Cascade's input. Every number these produce is a simulation's."""

from __future__ import annotations

import contextlib
import math

import numpy as np

from dthq.harness.results import QKDPoint
from dthq.qkd import theory
from dthq.qkd.bb84 import QKDAbort, QuantumChannel
from dthq.qkd.link import QKDRun, distil


def pulses_for(channel: QuantumChannel, sifted_bits: int) -> int:
    """Raw pulses that sift to about ``sifted_bits`` on this channel (so far points of a
    fibre sweep are not starved of bits)."""
    return math.ceil(sifted_bits / (theory.click_probability(channel) / 2))


def sweep_point(sweep: str, channel: QuantumChannel, sifted_bits: int, seed: int) -> QKDPoint:
    """One run at this channel; for the QBER sweep also the original Cascade schedule's f
    on the same pulses (same seed)."""
    raw = pulses_for(channel, sifted_bits)
    shor_preskill = theory.key_rate(channel, 1.0)
    try:
        run = distil(raw, channel, key_bits=128, seed=seed)
    except QKDAbort as exc:
        return QKDPoint(
            sweep, channel.qber, channel.fibre_km, raw, None, 0, shor_preskill, shor_preskill,
            aborted=str(exc),
        )  # fmt: skip
    # f = leaked / (n h(Q)) is undefined on an error-free link: say so, not infinity.
    f = run.efficiency if math.isfinite(run.efficiency) else None
    original = None
    if sweep == "qber":
        # The original schedule leaks more: it may leave nothing secret (then None).
        with contextlib.suppress(QKDAbort):
            f_original = distil(raw, channel, key_bits=128, seed=seed, schedule="original")
            original = f_original.efficiency if f is not None else None
    return QKDPoint(
        sweep=sweep,
        qber=channel.qber,
        fibre_km=channel.fibre_km,
        raw_pulses=raw,
        sifted=run.sifted,
        net_bits=max(0, run.net_bits),
        theory_rate=theory.key_rate(channel, f or 1.0),
        shor_preskill_rate=shor_preskill,
        efficiency=f,
        efficiency_original=original,
        rounds=run.rounds,
    )


def smallest_run(key_bits: int, qber: float, seed: int, start: int = 5_000) -> tuple[int, QKDRun]:
    """The fewest raw pulses (``start`` doubled) whose run yields one ``key_bits`` key."""
    raw = start
    while raw <= start << 12:
        try:
            return raw, distil(raw, QuantumChannel(qber=qber), key_bits=key_bits, seed=seed)
        except QKDAbort:
            raw *= 2
    raise QKDAbort(f"no {key_bits}-bit key from up to {raw // 2} pulses at QBER {qber:.0%}")


def cascade_input(bits: int, qber: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A's key and B's copy with exactly ``round(bits * qber)`` errors at random places."""
    rng = np.random.default_rng(seed)
    alice = rng.integers(0, 2, bits, dtype=np.uint8)
    bob = alice.copy()
    bob[rng.choice(bits, size=round(bits * qber), replace=False)] ^= 1
    return alice, bob
