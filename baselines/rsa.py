"""RSA-2048: RSA-OAEP-SHA-256 transport of a random session key to B's long-term key.

Not forward-secret, within its limits: the device PSK is the HKDF salt of every key,
so B's RSA key alone reveals nothing; whoever later obtains B's RSA key *and* the
device's PSK reads every past session (an ephemeral exchange would not allow that).
"""

from __future__ import annotations

import os
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from baselines.classical import ClassicalScheme
from dthq import AuthenticationError, DecodeError

OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


class RSA2048Scheme(ClassicalScheme):
    name = "rsa-2048"
    forward_secret = False

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # B's long-term key: provisioning, outside the timed handshake.
        self._service_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._service_public = self._service_key.public_key()

    def _initiate(self) -> tuple[bytes, bytes]:
        secret = os.urandom(32)
        return secret, self._service_public.encrypt(secret, OAEP)

    def _respond(self, share: bytes) -> tuple[bytes, bytes]:
        if len(share) != 256:
            raise DecodeError(f"RSA-2048 ciphertext must be 256 bytes, got {len(share)}")
        try:
            return self._service_key.decrypt(share, OAEP), b""
        except ValueError:
            raise AuthenticationError("RSA-OAEP decryption failed") from None

    def _finish(self, state: bytes, response: bytes) -> bytes:
        if response:
            raise DecodeError("RSA-2048 REPLY carries unexpected key material")
        return state
