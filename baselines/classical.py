"""What the RSA-2048 and ECC-256 baselines share: three flights with nonces and a
device PSK, transcript-bound key confirmation, HKDF traffic secrets, and DTHQ's
own record layer (AES-GCM suites), so the comparison isolates the key exchange.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

import dthq
from dthq import (
    AuthenticationError,
    DecodeError,
    MemoryTransport,
    RecordLayer,
    Session,
    SessionKeys,
    UnsupportedError,
)

NONCE = 32
DEVICE_ID, SERVICE_ID = b"device-A", b"service-B"  # the ids DTHQ's scheme binds


class ClassicalScheme:
    """Subclasses supply the key exchange: ``_initiate``, ``_respond``, ``_finish``."""

    name = ""
    quantum_safe = "no"
    forward_secret = True

    def __init__(
        self,
        *,
        key_length: int = 256,
        edge: str | None = None,
        codec: str | None = None,
        brotli_quality: int = 5,
    ) -> None:
        if key_length not in (128, 256):
            raise UnsupportedError(f"{self.name} records use AES-GCM: key length 128 or 256")
        self.suite = dthq.suite_for(key_length)
        self._h = self.suite.hash_name
        codec_name = codec or (dthq.edge_profile(edge).codec if edge else "none")
        self.codec = dthq.make_codec(codec_name, brotli_quality=brotli_quality)
        self.edge = edge
        self._psk = os.urandom(self.suite.hash_len)  # provisioning, as DTHQ's psk mode

    @property
    def params(self) -> dict[str, Any]:
        return {
            "key_length": self.suite.key_length,
            "aead": self.suite.aead_name,
            "codec": self.codec.name,
            "edge": self.edge,
            "forward_secret": self.forward_secret,
        }

    # --- the key exchange, per scheme ------------------------------------------

    def _initiate(self) -> tuple[Any, bytes]:
        """A: (private state, key share)."""
        raise NotImplementedError

    def _respond(self, share: bytes) -> tuple[bytes, bytes]:
        """B: (shared secret, B's response)."""
        raise NotImplementedError

    def _finish(self, state: Any, response: bytes) -> bytes:
        """A: the shared secret."""
        raise NotImplementedError

    # --- the common frame ---------------------------------------------------------

    def _key(self, secret: bytes, label: bytes, transcript: bytes) -> bytes:
        th = hashlib.new(self._h, transcript).digest()
        return dthq.hkdf(self._h, secret, self._psk, b"baseline " + label + th, self.suite.hash_len)

    def _confirm(self, secret: bytes, role: bytes, transcript: bytes) -> bytes:
        key = self._key(secret, role + b" confirm", b"")
        return hmac.digest(key, hashlib.new(self._h, transcript).digest(), self._h)

    def _verify(self, secret: bytes, role: bytes, transcript: bytes, tag: bytes) -> None:
        if not hmac.compare_digest(tag, self._confirm(secret, role, transcript)):
            raise AuthenticationError(f"{self.name}: {role.decode()} key confirmation failed")

    def establish(self, now_ms: int) -> Session:
        t = MemoryTransport()
        size = self.suite.hash_len
        # A -> B: nonce and key share
        state, share = self._initiate()
        t.send("A", os.urandom(NONCE) + share, "KEYSHARE")
        flight1 = t.receive("B")
        if len(flight1) <= NONCE:
            raise DecodeError(f"{self.name}: first flight of {len(flight1)} bytes is too short")
        secret_b, response = self._respond(flight1[NONCE:])
        # B -> A: nonce, response, confirmation over the transcript so far
        body = os.urandom(NONCE) + response
        t.send("B", body + self._confirm(secret_b, b"b", flight1 + body), "REPLY")
        flight2 = t.receive("A")
        if len(flight2) < NONCE + size:
            raise DecodeError(f"{self.name}: REPLY of {len(flight2)} bytes is too short")
        body, tag = flight2[:-size], flight2[-size:]
        secret_a = self._finish(state, body[NONCE:])
        self._verify(secret_a, b"b", flight1 + body, tag)
        # A -> B: A's confirmation over the whole transcript
        t.send("A", self._confirm(secret_a, b"a", flight1 + flight2), "FINISH")
        self._verify(secret_b, b"a", flight1 + flight2, t.receive("B"))
        transcript = flight1 + flight2 + t.log[-1].data
        th = hashlib.new(self._h, transcript).digest()

        def keys(role: str, secret: bytes) -> SessionKeys:
            a2b, b2a = self._key(secret, b"a2b", transcript), self._key(secret, b"b2a", transcript)
            return SessionKeys(role, self.suite, a2b, b2a, DEVICE_ID, SERVICE_ID, th)

        return Session(
            self.name,
            RecordLayer.from_keys(keys("A", secret_a), now_ms, codec=self.codec),
            RecordLayer.from_keys(keys("B", secret_b), now_ms, codec=self.codec),
            t.log,
            self.params,
        )
