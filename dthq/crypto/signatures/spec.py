"""What every ML-DSA (FIPS 204) backend shares: parameter sets, the interface, the checks.

Every backend takes and gives the standard raw encodings (FIPS 204 pkEncode, sigEncode),
so a key or signature from one verifies through another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dthq.errors import DecodeError, UnsupportedError

MAX_CONTEXT_SIZE = 255  # FIPS 204 §5.2: ctx is at most 255 bytes


@dataclass(frozen=True)
class SignatureSpec:
    name: str
    public_key_size: int
    signature_size: int
    secret_key_size: int  # the expanded private key (FIPS 204 skEncode)
    k: int  # rows of A: polynomials in s2 (and t)
    l: int  # noqa: E741 - FIPS 204's name; columns of A: polynomials in s1
    eta: int  # s1 and s2 coefficients lie in [-eta, eta]
    seed_size: int = 32  # xi (FIPS 204 §6.1)


ML_DSA_44 = SignatureSpec("ML-DSA-44", 1312, 2420, 2560, k=4, l=4, eta=2)
ML_DSA_65 = SignatureSpec("ML-DSA-65", 1952, 3309, 4032, k=6, l=5, eta=4)
ML_DSA_87 = SignatureSpec("ML-DSA-87", 2592, 4627, 4896, k=8, l=7, eta=2)
SPECS: dict[str, SignatureSpec] = {s.name: s for s in (ML_DSA_44, ML_DSA_65, ML_DSA_87)}


class SigningKey(Protocol):
    """A private key with the raw public key the peer registers."""

    spec: SignatureSpec
    backend: str
    public_bytes: bytes

    def sign(self, message: bytes, context: bytes) -> bytes: ...


class Signer(Protocol):
    spec: SignatureSpec
    backend: str

    def generate(self, seed: bytes | None = None) -> SigningKey:
        """A fresh key pair, or the one FIPS 204 derives from the 32-byte ``seed``."""
        ...

    def verify(self, public_key: bytes, signature: bytes, message: bytes, context: bytes) -> None:
        """Return if valid; else DecodeError (wrong sizes) or AuthenticationError."""
        ...


def check_seed(spec: SignatureSpec, seed: bytes) -> None:
    if len(seed) != spec.seed_size:
        raise DecodeError(f"{spec.name} seed must be {spec.seed_size} bytes, got {len(seed)}")


def check_context(context: bytes, backend_limit: int = MAX_CONTEXT_SIZE) -> None:
    if len(context) > MAX_CONTEXT_SIZE:
        raise DecodeError(f"a signature context is at most 255 bytes, got {len(context)}")
    if len(context) > backend_limit:
        raise UnsupportedError(
            f"this backend takes contexts of at most {backend_limit} bytes, got {len(context)}"
        )


def check_signature(spec: SignatureSpec, signature: bytes) -> None:
    if len(signature) != spec.signature_size:
        raise DecodeError(
            f"{spec.name} signature must be {spec.signature_size} bytes, got {len(signature)}"
        )


def check_expanded_key(spec: SignatureSpec, sk: bytes) -> None:
    """FIPS 204 skDecode's range check: every s1 and s2 coefficient in [-eta, eta].

    A backend that signs with an unchecked key (PQClean does) makes valid-looking
    signatures from a key outside the scheme; Wycheproof's InvalidPrivateKey cases.
    """
    if len(sk) != spec.secret_key_size:
        raise DecodeError(
            f"{spec.name} private key must be {spec.secret_key_size} bytes, got {len(sk)}"
        )
    bits = (2 * spec.eta).bit_length()  # 3 for eta 2, 4 for eta 4
    start = 32 + 32 + 64  # rho, K, tr
    packed = sk[start : start + 32 * bits * (spec.l + spec.k)]
    mask = (1 << bits) - 1
    for at in range(0, len(packed), bits):  # `bits` bytes hold 8 coefficients
        group = int.from_bytes(packed[at : at + bits], "little")
        for i in range(8):
            if (group >> (bits * i)) & mask > 2 * spec.eta:  # stored as eta - coefficient
                raise DecodeError(f"{spec.name} private key has s1 or s2 out of range")
