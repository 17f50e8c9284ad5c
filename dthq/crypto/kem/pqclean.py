"""ML-KEM-512/768/1024 and HQC-128/192/256 from ``pqcrypto`` (PQClean's portable C, as
manylinux wheels): a second post-quantum backend that works on a fresh machine.

pqcrypto offers no seeded key generation, so the Wycheproof seed vectors skip it; it
decapsulates with FIPS 203's expanded key, so the semi-expanded vectors run through
:meth:`PqcryptoKEM.from_expanded`. Its encapsulation makes FIPS 203's modulus check
(all 112 malformed Wycheproof keys per level refused) and its decapsulation the key
check; both refusals surface as DecodeError.
"""

from __future__ import annotations

from types import ModuleType

from dthq.crypto.kem.spec import (
    DecapsulationKey,
    KEMSpec,
    check_ct,
    check_ek,
)
from dthq.errors import DecodeError, UnsupportedError

MODULES = {
    "ML-KEM-512": "ml_kem_512",
    "ML-KEM-768": "ml_kem_768",
    "ML-KEM-1024": "ml_kem_1024",
    "HQC-128": "hqc_128",
    "HQC-192": "hqc_192",
    "HQC-256": "hqc_256",
}


def _module(spec: KEMSpec) -> ModuleType:
    import importlib

    return importlib.import_module(f"pqcrypto.kem.{MODULES[spec.name]}")


class _PqDecapsulationKey:
    __slots__ = ("_mod", "_sk", "_spec")

    def __init__(self, mod: ModuleType, sk: bytes, spec: KEMSpec) -> None:
        self._mod, self._sk, self._spec = mod, sk, spec

    def decapsulate(self, ciphertext: bytes) -> bytes:
        check_ct(self._spec, ciphertext)
        try:
            return bytes(self._mod.decaps(self._sk, ciphertext))
        except ValueError as exc:  # FIPS 203 §7.3's key check: H(ek) inside dk must match
            raise DecodeError(f"{self._spec.name} decapsulation key is malformed ({exc})") from None


class PqcryptoKEM:
    backend = "pqcrypto"
    seeded = False  # no FIPS 203 KeyGen_internal(d, z)

    def __init__(self, spec: KEMSpec) -> None:
        self.spec = spec
        self._mod = _module(spec)
        if (spec.ek_size, spec.ct_size) != (self._mod.PUBLIC_KEY_SIZE, self._mod.CIPHERTEXT_SIZE):
            raise UnsupportedError(
                f"pqcrypto's {spec.name} sizes ({self._mod.PUBLIC_KEY_SIZE}, "
                f"{self._mod.CIPHERTEXT_SIZE}) differ from the spec's"
            )

    def generate(self, seed: bytes | None = None) -> tuple[DecapsulationKey, bytes]:
        if seed is not None:
            raise UnsupportedError("pqcrypto offers no seeded key generation")
        ek, sk = self._mod.keygen()
        return _PqDecapsulationKey(self._mod, bytes(sk), self.spec), bytes(ek)

    def from_expanded(self, dk: bytes) -> DecapsulationKey:
        """The decapsulation key from its expanded encoding (FIPS 203 dk, HQC sk)."""
        if len(dk) != self._mod.SECRET_KEY_SIZE:
            raise DecodeError(
                f"{self.spec.name} expanded key must be {self._mod.SECRET_KEY_SIZE} bytes"
            )
        return _PqDecapsulationKey(self._mod, dk, self.spec)

    def encapsulate(self, ek: bytes) -> tuple[bytes, bytes]:
        check_ek(self.spec, ek)
        try:
            ct, ss = self._mod.encaps(ek)
        except ValueError:  # FIPS 203 §7.2's modulus check
            raise DecodeError(f"{self.spec.name} encapsulation key is malformed") from None
        return bytes(ct), bytes(ss)


def unsupported_reason() -> str:
    """Empty if pqcrypto imports, else why not."""
    try:
        import pqcrypto.kem.ml_kem_768  # noqa: F401
    except ImportError as exc:
        return f"pqcrypto is not installed ({exc}): pip install pqcrypto"
    return ""
