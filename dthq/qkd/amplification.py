"""Privacy amplification: Toeplitz hashing to the length a finite-size bound allows.
SIMULATED keys; the bound is the standard one, stated below.

Secure length (bits), for n reconciled bits, a QBER estimated on k sampled bits:
    Q_u = Q + sqrt((n + k) / (n k) * (k + 1) / k * ln(1 / eps_pe) / 2)   (Serfling's bound
          for sampling without replacement; eps_pe = 1e-10)
    l   = n (1 - h(Q_u)) - leaked_ec - leaked_verify - 2 log2(1 / eps_pa) - margin
with eps_pa = 1e-10 and a margin of 64 bits. A run whose l cannot give one final key is
refused: the bound says nothing (or too little) is secret.
"""

from __future__ import annotations

import math

import numpy as np

from dthq.qkd.cascade import binary_entropy

EPS_PE = 1e-10
EPS_PA = 1e-10
MARGIN_BITS = 64


def qber_upper(qber: float, n: int, k: int, eps: float = EPS_PE) -> float:
    mu = math.sqrt((n + k) / (n * k) * (k + 1) / k * math.log(1 / eps) / 2)
    return min(0.5, qber + mu)


def secure_length(
    n: int, qber: float, sample: int, leaked_ec: int, leaked_verify: int
) -> tuple[int, float]:
    """(bits that may be kept, the QBER bound used)."""
    q_u = qber_upper(qber, n, sample)
    length = n * (1 - binary_entropy(q_u)) - leaked_ec - leaked_verify
    length -= 2 * math.log2(1 / EPS_PA) + MARGIN_BITS
    return max(0, math.floor(length)), q_u


def toeplitz(key: np.ndarray, out_bits: int, seed: np.ndarray) -> np.ndarray:
    """T @ key mod 2 for the out_bits x n Toeplitz matrix T[i, j] = seed[i - j + n - 1]
    (seed: n + out_bits - 1 public random bits), by FFT convolution."""
    n = key.size
    if seed.size != n + out_bits - 1:
        raise ValueError(f"a Toeplitz seed for {n} -> {out_bits} bits has {n + out_bits - 1} bits")
    size = 1 << (seed.size + n - 1).bit_length()
    conv = np.fft.irfft(np.fft.rfft(seed, size) * np.fft.rfft(key, size), size)
    return (np.rint(conv[n - 1 : n - 1 + out_bits]).astype(np.int64) & 1).astype(np.uint8)
