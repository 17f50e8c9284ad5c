"""ML-DSA-44/65/87 from pyca/cryptography (OpenSSL; the default backend)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dthq.crypto.signatures.spec import (
    SignatureSpec,
    check_context,
    check_seed,
    check_signature,
)
from dthq.errors import AuthenticationError


@dataclass(frozen=True)
class PycaSigningKey:
    spec: SignatureSpec
    public_bytes: bytes
    _private: Any = field(repr=False)
    backend: str = "cryptography"

    def sign(self, message: bytes, context: bytes) -> bytes:
        check_context(context)
        return self._private.sign(message, context)


class PycaSigner:
    backend = "cryptography"

    def __init__(self, spec: SignatureSpec) -> None:
        from cryptography.hazmat.primitives.asymmetric import mldsa

        self.spec = spec
        level = spec.name.removeprefix("ML-DSA-")
        self._private = getattr(mldsa, f"MLDSA{level}PrivateKey")
        self._public = getattr(mldsa, f"MLDSA{level}PublicKey")

    def generate(self, seed: bytes | None = None) -> PycaSigningKey:
        if seed is None:
            private = self._private.generate()
        else:
            check_seed(self.spec, seed)
            private = self._private.from_seed_bytes(seed)
        return PycaSigningKey(self.spec, private.public_key().public_bytes_raw(), private)

    def verify(self, public_key: bytes, signature: bytes, message: bytes, context: bytes) -> None:
        from cryptography.exceptions import InvalidSignature

        check_signature(self.spec, signature)
        check_context(context)
        try:
            key = self._public.from_public_bytes(public_key)
        except ValueError:
            raise AuthenticationError(
                f"registered {self.spec.name} public key is malformed"
            ) from None
        try:
            key.verify(signature, message, context)
        except InvalidSignature:
            raise AuthenticationError(f"{self.spec.name} signature did not verify") from None


def unsupported_reason() -> str:
    """Empty if this cryptography build offers ML-DSA, else the reason it does not."""
    try:
        from cryptography.hazmat.backends.openssl.backend import backend
    except ImportError as exc:  # pragma: no cover - cryptography is a hard dependency
        return f"cryptography is not installed ({exc})"
    if not getattr(backend, "mldsa_supported", lambda: False)():
        return f"cryptography's OpenSSL ({backend.openssl_version_text()}) has no ML-DSA"
    return ""
