"""A simulated BB84 link (numpy, vectorised, seeded): pulses, channel, eavesdropper, sifting
and parameter estimation. SIMULATED: every figure is a model's, not a measurement's.

The model, stated:
- A sends n pulses, each a random bit in a random basis (Z or X); a single-photon source.
- The fibre transmits a pulse with probability 10^(-alpha L / 10) (alpha dB/km, L km), and
  B's detector clicks on a transmitted pulse with probability ``detector_efficiency``;
  it also clicks on a dark count with probability ``dark_count`` per pulse, giving a
  random bit.
- The channel flips a detected bit with probability ``qber`` (the paper's Table 2 noise
  tolerance 1-5 %: misalignment and detector noise together).
- An intercept-resend eavesdropper on a fraction of the pulses measures each in a random
  basis and resends what she saw: a wrong guess of basis gives B a random bit, so full
  interception adds 25 % error to the sifted key.
- Sifting keeps the pulses B detected in the basis A used (bases are announced over the
  authenticated classical channel). A random sample of the sifted bits is disclosed to
  estimate the QBER; the run aborts above ``abort_qber`` (default 11 %, where the
  Shor-Preskill rate reaches zero).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dthq.errors import DTHQError


class QKDAbort(DTHQError):
    """The run produced no key: too much error (an eavesdropper?), or too few bits."""

    def to_json(self) -> dict[str, object]:
        return {"simulated": True, "aborted": True, "reason": str(self)}


@dataclass(frozen=True)
class QuantumChannel:
    qber: float = 0.03
    fibre_km: float = 0.0
    attenuation_db_per_km: float = 0.2  # telecom fibre at 1550 nm
    detector_efficiency: float = 0.6
    dark_count: float = 1e-6  # per pulse

    def __post_init__(self) -> None:
        if not 0 <= self.qber < 0.5:
            raise ValueError("qber must be in [0, 0.5)")
        if self.fibre_km < 0 or not 0 < self.detector_efficiency <= 1:
            raise ValueError("fibre length must be >= 0 and detector efficiency in (0, 1]")

    @property
    def transmittance(self) -> float:
        return 10 ** (-self.attenuation_db_per_km * self.fibre_km / 10) * self.detector_efficiency


@dataclass(frozen=True)
class Sifted:
    """A's and B's sifted keys after parameter estimation, with what it took."""

    alice: np.ndarray  # uint8 bits, the sample removed
    bob: np.ndarray
    raw_pulses: int
    detected: int  # detected in A's basis (the announced sifting mask)
    sifted: int
    sample_size: int
    sample_errors: int

    @property
    def qber_estimate(self) -> float:
        return self.sample_errors / self.sample_size if self.sample_size else 0.0


def transmit(
    n: int, channel: QuantumChannel, rng: np.random.Generator, *, eve_fraction: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A's and B's bits at the sifted positions (before parameter estimation), and the
    sifting mask (what B announces: which pulses he detected in A's basis)."""
    if n <= 0:
        raise ValueError("n must be positive")
    if not 0 <= eve_fraction <= 1:
        raise ValueError("eve_fraction must be in [0, 1]")
    bits = rng.integers(0, 2, n, dtype=np.uint8)
    basis_a = rng.integers(0, 2, n, dtype=np.uint8)
    basis_b = rng.integers(0, 2, n, dtype=np.uint8)
    arriving = bits.copy()
    # Intercept-resend: Eve measures in her basis; a wrong guess randomises the bit she
    # resends, as seen in A's basis.
    eve = rng.random(n) < eve_fraction
    eve_wrong = eve & (rng.integers(0, 2, n, dtype=np.uint8) != basis_a)
    arriving[eve_wrong] = rng.integers(0, 2, int(eve_wrong.sum()), dtype=np.uint8)
    # B measures: in the wrong basis his bit is random (discarded at sifting anyway).
    received = np.where(basis_b == basis_a, arriving, rng.integers(0, 2, n, dtype=np.uint8))
    received ^= (rng.random(n) < channel.qber).astype(np.uint8)
    detected = rng.random(n) < channel.transmittance
    dark = ~detected & (rng.random(n) < channel.dark_count)
    received = np.where(dark, rng.integers(0, 2, n, dtype=np.uint8), received)
    keep = (detected | dark) & (basis_a == basis_b)
    return bits[keep], received[keep], keep


def sift_and_estimate(
    n: int,
    channel: QuantumChannel,
    rng: np.random.Generator,
    *,
    eve_fraction: float = 0.0,
    sample_fraction: float = 0.1,
    abort_qber: float = 0.11,
    send: Callable[[str, bytes], bytes] = lambda kind, message: message,
) -> Sifted:
    """Transmit, sift, and estimate the QBER on a random disclosed sample (then drop it).
    ``send`` carries the sifting announcement and the sample over the classical channel."""
    alice, bob, mask = transmit(n, channel, rng, eve_fraction=eve_fraction)
    send("sifting", np.packbits(mask).tobytes())
    detected = int(mask.sum())
    sifted = alice.size
    k = max(1, round(sifted * sample_fraction))
    if sifted < 2 * k:
        raise QKDAbort(f"only {sifted} sifted bits from {n} pulses: too few to estimate")
    sample = rng.choice(sifted, size=k, replace=False)
    send("sample", sample.astype(np.uint32).tobytes() + np.packbits(alice[sample]).tobytes())
    errors = int((alice[sample] != bob[sample]).sum())
    keep = np.ones(sifted, dtype=bool)
    keep[sample] = False
    result = Sifted(alice[keep], bob[keep], n, detected, sifted, k, errors)
    if result.qber_estimate > abort_qber:
        raise QKDAbort(
            f"estimated QBER {result.qber_estimate:.1%} exceeds {abort_qber:.0%}: "
            "an eavesdropper, or a link too noisy for a secret key"
        )
    return result
