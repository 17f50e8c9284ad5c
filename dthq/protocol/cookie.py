"""Stateless retry cookies (after DTLS 1.3's HelloRetryRequest cookie and QUIC Retry).

Under a retry policy, B answers a HELLO without a cookie with a small RETRY that
carries a cookie, and keeps no state. The cookie is
``generation u8 | time ms u48 | HMAC-SHA-256(secret, label | generation | time | H(HELLO))``
(the MAC truncated to 16 bytes), where H(HELLO) covers every field but the cookie:
A's id, nonce, key share, suite, KEM, mode. A repeats the same HELLO with the cookie;
B verifies it under the current or previous secret (they rotate) and only then does
the expensive work: an ML-KEM encapsulation, and an ML-DSA signature in mldsa mode.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import struct
from collections.abc import Callable

from dthq.errors import AuthenticationError, DecodeError
from dthq.protocol.wire import Hello

COOKIE_HEAD = struct.Struct(">BHI")  # generation, time ms as u16 + u32
MAC_SIZE = 16
COOKIE_SIZE = COOKIE_HEAD.size + MAC_SIZE
LABEL = b"dthq1 cookie"


class RetryPolicy(enum.Enum):
    """When B asks for a cookie: the retry costs A one round trip."""

    NEVER = "never"
    UNDER_LOAD = "under-load"  # when the server says it is (e.g. many half-open handshakes)
    ALWAYS = "always"


class CookieJar:
    """B's cookie secret, rotated every ``rotate_ms``; a cookie lives ``lifetime_ms``."""

    def __init__(
        self,
        now_ms: int,
        *,
        lifetime_ms: int = 10_000,
        rotate_ms: int = 60_000,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if not 0 < lifetime_ms <= rotate_ms:
            raise ValueError("lifetime_ms must be in 1..rotate_ms")
        self.lifetime_ms = lifetime_ms
        self.rotate_ms = rotate_ms
        self._random = random
        self._generation = 0
        self._secrets = {0: random(32)}
        self._rotated_ms = now_ms

    def _rotate(self, now_ms: int) -> None:
        while now_ms - self._rotated_ms >= self.rotate_ms:
            self._generation = (self._generation + 1) % 256
            # Keep the current and the previous secret only.
            self._secrets = {
                self._generation: self._random(32),
                (self._generation - 1) % 256: self._secrets[(self._generation - 1) % 256],
            }
            self._rotated_ms += self.rotate_ms

    def _mac(self, generation: int, head: bytes, hello: Hello) -> bytes:
        digest = hashlib.sha256(hello.without_cookie()).digest()
        return hmac.digest(self._secrets[generation], LABEL + head + digest, "sha256")[:MAC_SIZE]

    def make(self, hello: Hello, now_ms: int) -> bytes:
        self._rotate(now_ms)
        head = COOKIE_HEAD.pack(self._generation, now_ms >> 32 & 0xFFFF, now_ms & 0xFFFFFFFF)
        return head + self._mac(self._generation, head, hello)

    def check(self, hello: Hello, now_ms: int) -> None:
        """Raise unless ``hello.cookie`` was made by this jar, for this HELLO, recently."""
        self._rotate(now_ms)
        cookie = hello.cookie
        if len(cookie) != COOKIE_SIZE:
            raise DecodeError(f"cookie is {len(cookie)} bytes, expected {COOKIE_SIZE}")
        head, mac = cookie[: COOKIE_HEAD.size], cookie[COOKIE_HEAD.size :]
        generation, hi, lo = COOKIE_HEAD.unpack(head)
        if generation not in self._secrets:
            raise AuthenticationError("cookie from a retired secret")
        if not hmac.compare_digest(mac, self._mac(generation, head, hello)):
            raise AuthenticationError("cookie does not match this HELLO")
        age = now_ms - ((hi << 32) | lo)
        if not 0 <= age <= self.lifetime_ms:
            raise AuthenticationError(f"cookie is {age} ms old; it lives {self.lifetime_ms} ms")
