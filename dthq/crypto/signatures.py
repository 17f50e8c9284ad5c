"""ML-DSA (FIPS 204) signatures for the ``mldsa`` authentication mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dthq.errors import AuthenticationError, DecodeError, UnsupportedError


@dataclass(frozen=True)
class SignatureSpec:
    name: str
    public_key_size: int
    signature_size: int


ML_DSA_44 = SignatureSpec("ML-DSA-44", 1312, 2420)
ML_DSA_65 = SignatureSpec("ML-DSA-65", 1952, 3309)
SPECS: dict[str, SignatureSpec] = {s.name: s for s in (ML_DSA_44, ML_DSA_65)}


def _classes(spec: SignatureSpec) -> tuple[Any, Any]:
    try:
        from cryptography.hazmat.primitives.asymmetric import mldsa
    except ImportError as exc:
        raise UnsupportedError(f"this cryptography build has no ML-DSA ({exc})") from None
    level = spec.name.removeprefix("ML-DSA-")
    return getattr(mldsa, f"MLDSA{level}PrivateKey"), getattr(mldsa, f"MLDSA{level}PublicKey")


@dataclass(frozen=True)
class SigningKey:
    """A private ML-DSA key with its raw public key (what the peer registers)."""

    spec: SignatureSpec
    private: Any
    public_bytes: bytes

    @classmethod
    def generate(cls, name: str = "ML-DSA-65") -> SigningKey:
        spec = spec_named(name)
        private = _classes(spec)[0].generate()
        return cls(spec, private, private.public_key().public_bytes_raw())

    def sign(self, message: bytes, context: bytes) -> bytes:
        return self.private.sign(message, context)


def spec_named(name: str) -> SignatureSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise UnsupportedError(
            f"unknown signature scheme {name!r}; choose {', '.join(SPECS)}"
        ) from None


def verify(
    spec: SignatureSpec, public_key: bytes, signature: bytes, message: bytes, context: bytes
) -> None:
    """Raise AuthenticationError unless ``signature`` is valid; never anything else."""
    from cryptography.exceptions import InvalidSignature

    if len(signature) != spec.signature_size:
        raise DecodeError(
            f"{spec.name} signature must be {spec.signature_size} bytes, got {len(signature)}"
        )
    try:
        key = _classes(spec)[1].from_public_bytes(public_key)
    except ValueError:
        raise AuthenticationError(f"registered {spec.name} public key is malformed") from None
    try:
        key.verify(signature, message, context)
    except InvalidSignature:
        raise AuthenticationError(f"{spec.name} signature did not verify") from None
