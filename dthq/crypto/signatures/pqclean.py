"""ML-DSA-44/65/87 from ``pqcrypto`` (PQClean's portable C, as manylinux wheels).

pqcrypto offers no seeded key generation, so Wycheproof's seed vectors skip it; it
signs with FIPS 204's expanded private key, so the no-seed vectors run through
:meth:`PqcryptoSigner.from_expanded`, which adds the range check PQClean leaves out.
Signing is hedged (fresh randomness), so signatures are checked by verifying them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType

from dthq.crypto.signatures.spec import (
    SignatureSpec,
    check_context,
    check_expanded_key,
    check_signature,
)
from dthq.errors import AuthenticationError, UnsupportedError

MODULES = {"ML-DSA-44": "ml_dsa_44", "ML-DSA-65": "ml_dsa_65", "ML-DSA-87": "ml_dsa_87"}
# pqcrypto 1.0.0 refuses a 254- or 255-byte context (FIPS 204 allows 255), signing and
# verifying alike; refused here by name rather than as a failed signature. The protocol's
# contexts are a few bytes.
MAX_CONTEXT = 253


@dataclass(frozen=True)
class PqSigningKey:
    spec: SignatureSpec
    public_bytes: bytes
    _mod: ModuleType = field(repr=False)
    _sk: bytes = field(repr=False)
    backend: str = "pqcrypto"

    def sign(self, message: bytes, context: bytes) -> bytes:
        check_context(context, MAX_CONTEXT)
        return bytes(self._mod.sign(self._sk, message, context=context))


class PqcryptoSigner:
    backend = "pqcrypto"
    seeded = False  # no FIPS 204 KeyGen_internal(xi)
    max_context = MAX_CONTEXT

    def __init__(self, spec: SignatureSpec) -> None:
        self.spec = spec
        self._mod = importlib.import_module(f"pqcrypto.sign.{MODULES[spec.name]}")
        sizes = (self._mod.PUBLIC_KEY_SIZE, self._mod.SIGNATURE_SIZE, self._mod.SECRET_KEY_SIZE)
        if sizes != (spec.public_key_size, spec.signature_size, spec.secret_key_size):
            raise UnsupportedError(f"pqcrypto's {spec.name} sizes {sizes} differ from FIPS 204's")

    def generate(self, seed: bytes | None = None) -> PqSigningKey:
        if seed is not None:
            raise UnsupportedError("pqcrypto offers no seeded key generation")
        pk, sk = self._mod.keygen()
        return PqSigningKey(self.spec, bytes(pk), self._mod, bytes(sk))

    def from_expanded(self, sk: bytes, public_key: bytes) -> PqSigningKey:
        """A signing key from its expanded encoding (FIPS 204 skEncode), range-checked."""
        check_expanded_key(self.spec, sk)
        return PqSigningKey(self.spec, public_key, self._mod, sk)

    def verify(self, public_key: bytes, signature: bytes, message: bytes, context: bytes) -> None:
        check_signature(self.spec, signature)
        check_context(context, MAX_CONTEXT)
        if len(public_key) != self.spec.public_key_size:
            raise AuthenticationError(f"registered {self.spec.name} public key is malformed")
        from pqcrypto import InvalidSignatureError

        try:
            self._mod.verify(public_key, message, signature, context=context)
        except InvalidSignatureError:
            raise AuthenticationError(f"{self.spec.name} signature did not verify") from None


def unsupported_reason() -> str:
    """Empty if pqcrypto's ML-DSA imports, else why not."""
    try:
        import pqcrypto.sign.ml_dsa_65  # noqa: F401
    except ImportError as exc:
        return f"pqcrypto is not installed ({exc}): pip install pqcrypto"
    return ""
