"""The authenticated classical channel of the post-processing. SIMULATED link, real MACs.

Choice, stated: every message (bases, the QBER sample, each Cascade round's parities, the
verification hash, the Toeplitz seed) carries an HMAC-SHA-256 tag (128 bits) under a
per-run key of AUTH_KEY_BITS bits taken from the pre-shared pool (the paper's secKeyA,
replenished from earlier QKD output as deployments do). That is computational, not
Wegman-Carter's information-theoretic authentication; the key it consumes is counted and
subtracted from the net key. A tag that fails aborts the run.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from dthq.qkd.bb84 import QKDAbort

AUTH_KEY_BITS = 256
TAG_BYTES = 16

Tamper = Callable[[str, bytes], bytes]  # (kind, message) -> what arrives, for tests


class AuthenticatedChannel:
    def __init__(self, key: bytes, tamper: Tamper | None = None) -> None:
        if len(key) * 8 != AUTH_KEY_BITS:
            raise ValueError(f"the per-run authentication key is {AUTH_KEY_BITS} bits")
        self._key = key
        self._tamper = tamper
        self._counter = 0
        self.messages = 0
        self.bytes_sent = 0

    def deliver(self, kind: str, message: bytes) -> bytes:
        """Send ``message`` with its tag; return it as the peer accepts it (or abort)."""
        header = kind.encode() + self._counter.to_bytes(8, "big")  # order and kind bound
        tag = hmac.digest(self._key, header + message, "sha256")[:TAG_BYTES]
        arrived = self._tamper(kind, message) if self._tamper else message
        self._counter += 1
        self.messages += 1
        self.bytes_sent += len(message) + TAG_BYTES
        expected = hmac.digest(self._key, header + arrived, "sha256")[:TAG_BYTES]
        if not hmac.compare_digest(tag, expected):
            raise QKDAbort(f"classical message {kind!r} failed authentication: run aborted")
        return arrived

    @property
    def key_bits_used(self) -> int:
        return AUTH_KEY_BITS


def digest(bits: bytes, salt: bytes) -> bytes:
    """The verification hash both ends compare after reconciliation (64 bits)."""
    return hashlib.sha256(salt + bits).digest()[:8]
