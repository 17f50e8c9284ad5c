"""One SIMULATED QKD run end to end: BB84, sifting and estimation, Cascade, verification,
privacy amplification, all over the authenticated classical channel; final keys of
128, 256 or 512 bits, or an abort that says why."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from dthq.qkd.amplification import secure_length, toeplitz
from dthq.qkd.bb84 import QKDAbort, QuantumChannel, sift_and_estimate
from dthq.qkd.cascade import binary_entropy, efficiency, reconcile
from dthq.qkd.channel import AuthenticatedChannel, Tamper, digest

KEY_BITS = (128, 256, 512)
VERIFY_BITS = 64


@dataclass(frozen=True)
class QKDRun:
    """What one simulated run produced and what it cost. Every figure is SIMULATED."""

    raw_pulses: int
    sifted: int
    sample: int
    qber_estimate: float
    qber_bound: float  # the finite-size upper bound used for privacy amplification
    qber_true: float  # known only because this is a simulation
    reconciled: int  # bits through Cascade
    leaked_ec: int
    leaked_verify: int
    efficiency: float  # f = leaked_ec / (n h(Q_true))
    rounds: int  # classical round trips of Cascade
    block_sizes: tuple[int, ...]
    auth_messages: int
    auth_key_bits: int  # consumed, subtracted from the net key
    secure_bits: int  # after privacy amplification
    keys: list[bytes] = field(repr=False)
    key_bits: int
    seconds: float
    cascade_seconds: float
    simulated: bool = True

    def to_json(self) -> dict[str, object]:
        """What ``dthq qkd --json`` prints (the keys themselves never)."""
        return {
            "simulated": True,
            "aborted": False,
            "raw_pulses": self.raw_pulses,
            "sifted_bits": self.sifted,
            "sample_bits": self.sample,
            "qber_estimate": round(self.qber_estimate, 5),
            "qber_bound": round(self.qber_bound, 5),
            "leaked_bits": self.leaked_ec + self.leaked_verify,
            "efficiency_f": round(self.efficiency, 4),
            "rounds": self.rounds,
            "block_sizes": list(self.block_sizes),
            "auth_messages": self.auth_messages,
            "auth_key_bits_used": self.auth_key_bits,
            "secure_bits": self.secure_bits,
            "final_keys": len(self.keys),
            "key_bits": self.key_bits,
            "secret_fraction": round(self.secret_fraction, 4),
            "theoretical_fraction": round(self.theoretical_fraction, 4),
            "seconds": round(self.seconds, 4),
            "cascade_seconds": round(self.cascade_seconds, 4),
        }

    @property
    def net_bits(self) -> int:
        return self.secure_bits - self.auth_key_bits

    @property
    def secret_fraction(self) -> float:
        """Secure bits per reconciled bit (theory, asymptotically: 1 - h(Q) - f h(Q))."""
        return self.secure_bits / self.reconciled if self.reconciled else 0.0

    @property
    def theoretical_fraction(self) -> float:
        h = binary_entropy(self.qber_true)
        return max(0.0, 1 - h - self.efficiency * h)


def distil(
    raw_pulses: int,
    channel: QuantumChannel,
    *,
    key_bits: int = 256,
    eve_fraction: float = 0.0,
    seed: int | None = None,
    schedule: str = "optimised",
    abort_qber: float = 0.11,
    tamper: Tamper | None = None,
) -> QKDRun:
    """Run the link and the post-processing; QKDAbort if no key may be emitted."""
    if key_bits not in KEY_BITS:
        raise ValueError(f"key bits must be one of {', '.join(map(str, KEY_BITS))}")
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    auth = AuthenticatedChannel(rng.bytes(32), tamper)  # this run's key from the pool
    s = sift_and_estimate(
        raw_pulses,
        channel,
        rng,
        eve_fraction=eve_fraction,
        abort_qber=abort_qber,
        send=auth.deliver,
    )
    q_true = float(np.mean(s.alice != s.bob))
    t = time.perf_counter()
    cascade = reconcile(
        s.alice, s.bob, max(s.qber_estimate, 1e-3), rng, schedule=schedule, send=auth.deliver
    )
    cascade_seconds = time.perf_counter() - t
    salt = rng.bytes(16)
    a_bytes, b_bytes = np.packbits(s.alice).tobytes(), np.packbits(cascade.corrected).tobytes()
    a_digest = auth.deliver("verify", salt + digest(a_bytes, salt))[16:]
    if a_digest != digest(b_bytes, salt):
        raise QKDAbort("keys still differ after reconciliation (verification hash): aborted")
    n = s.alice.size
    secure, q_bound = secure_length(n, s.qber_estimate, s.sample_size, cascade.leaked_bits, 64)
    usable = secure - auth.key_bits_used
    if usable < key_bits:
        raise QKDAbort(
            f"nothing secret enough: {secure} secure bits (QBER bound {q_bound:.2%}, "
            f"{cascade.leaked_bits} bits leaked) leave {usable} after authentication, "
            f"fewer than one {key_bits}-bit key"
        )
    pa_seed = rng.integers(0, 2, n + secure - 1, dtype=np.uint8)
    auth.deliver("pa-seed", np.packbits(pa_seed).tobytes())
    final_a = toeplitz(s.alice, secure, pa_seed)
    final_b = toeplitz(cascade.corrected, secure, pa_seed)
    if not np.array_equal(final_a, final_b):  # cannot happen after a verified reconciliation
        raise QKDAbort("final keys differ: aborted")
    # The first auth_key_bits replenish the authentication pool; the rest become keys.
    rest = final_a[auth.key_bits_used :]
    keys = [
        np.packbits(rest[i : i + key_bits]).tobytes()
        for i in range(0, rest.size - key_bits + 1, key_bits)
    ]
    return QKDRun(
        raw_pulses=raw_pulses,
        sifted=s.sifted,
        sample=s.sample_size,
        qber_estimate=s.qber_estimate,
        qber_bound=q_bound,
        qber_true=q_true,
        reconciled=n,
        leaked_ec=cascade.leaked_bits,
        leaked_verify=VERIFY_BITS,
        efficiency=efficiency(cascade.leaked_bits, n, q_true),
        rounds=cascade.rounds,
        block_sizes=cascade.block_sizes,
        auth_messages=auth.messages,
        auth_key_bits=auth.key_bits_used,
        secure_bits=secure,
        keys=keys,
        key_bits=key_bits,
        seconds=time.perf_counter() - start,
        cascade_seconds=cascade_seconds,
    )
