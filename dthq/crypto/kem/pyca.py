"""ML-KEM-768/1024 from pyca/cryptography (the default backend)."""

from __future__ import annotations

from dthq.crypto.kem.spec import DecapsulationKey, KEMSpec, check_ct, check_ek, check_seed
from dthq.errors import DecodeError


class _PycaDecapsulationKey:
    __slots__ = ("_key", "_spec")

    def __init__(self, key: object, spec: KEMSpec) -> None:
        self._key = key
        self._spec = spec

    def decapsulate(self, ciphertext: bytes) -> bytes:
        check_ct(self._spec, ciphertext)
        # ML-KEM decapsulation never fails on a well-sized ciphertext: a forged
        # one yields the implicit-rejection secret, caught by key confirmation.
        return self._key.decapsulate(ciphertext)  # type: ignore[attr-defined]


class PycaKEM:
    backend = "cryptography"

    def __init__(self, spec: KEMSpec) -> None:
        from cryptography.hazmat.primitives.asymmetric import mlkem

        self.spec = spec
        suffix = spec.name.removeprefix("ML-KEM-")
        self._private = getattr(mlkem, f"MLKEM{suffix}PrivateKey")
        self._public = getattr(mlkem, f"MLKEM{suffix}PublicKey")

    def generate(self, seed: bytes | None = None) -> tuple[DecapsulationKey, bytes]:
        if seed is None:
            key = self._private.generate()
        else:
            check_seed(self.spec, seed)
            key = self._private.from_seed_bytes(seed)
        return _PycaDecapsulationKey(key, self.spec), key.public_key().public_bytes_raw()

    def encapsulate(self, ek: bytes) -> tuple[bytes, bytes]:
        check_ek(self.spec, ek)
        try:
            public = self._public.from_public_bytes(ek)
        except ValueError:
            # FIPS 203 §7.2 modulus check: coefficients must be reduced mod q.
            raise DecodeError(f"{self.spec.name} encapsulation key is malformed") from None
        shared, ciphertext = public.encapsulate()
        return ciphertext, shared


def unsupported_reason() -> str:
    """Empty if this cryptography build offers ML-KEM, else the reason it does not."""
    try:
        from cryptography.hazmat.backends.openssl.backend import backend
    except ImportError as exc:  # pragma: no cover - cryptography is a hard dependency
        return f"cryptography is not installed ({exc})"
    if not getattr(backend, "mlkem_supported", lambda: False)():
        return f"cryptography's OpenSSL ({backend.openssl_version_text()}) has no ML-KEM"
    return ""
