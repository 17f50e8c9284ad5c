"""ML-KEM behind one interface: pyca/cryptography by default, liboqs optional.

Wire identifiers are the TLS NamedGroup code points for pure ML-KEM
(draft-ietf-tls-mlkem), so a HELLO names its KEM the way a TLS ClientHello would.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Protocol

from dthq.errors import DecodeError, UnsupportedError
from dthq.registry import Registry


@dataclass(frozen=True)
class KEMSpec:
    name: str
    wire_id: int
    ek_size: int
    ct_size: int
    ss_size: int = 32
    seed_size: int = 64  # d || z (FIPS 203 §7.1)


ML_KEM_512 = KEMSpec("ML-KEM-512", 0x0200, 800, 768)
ML_KEM_768 = KEMSpec("ML-KEM-768", 0x0201, 1184, 1088)
ML_KEM_1024 = KEMSpec("ML-KEM-1024", 0x0202, 1568, 1568)

SPECS: dict[str, KEMSpec] = {s.name: s for s in (ML_KEM_512, ML_KEM_768, ML_KEM_1024)}
BY_WIRE_ID: dict[int, KEMSpec] = {s.wire_id: s for s in SPECS.values()}


class DecapsulationKey(Protocol):
    def decapsulate(self, ciphertext: bytes) -> bytes: ...


class KEM(Protocol):
    spec: KEMSpec
    backend: str

    def generate(self, seed: bytes | None = None) -> tuple[DecapsulationKey, bytes]:
        """A fresh key pair (or the one FIPS 203 derives from ``seed``): (dk, ek)."""
        ...

    def encapsulate(self, ek: bytes) -> tuple[bytes, bytes]:
        """(ciphertext, shared secret); a malformed ``ek`` raises DecodeError."""
        ...


def check_seed(spec: KEMSpec, seed: bytes) -> None:
    if len(seed) != spec.seed_size:
        raise DecodeError(f"{spec.name} seed must be {spec.seed_size} bytes, got {len(seed)}")


def check_ek(spec: KEMSpec, ek: bytes) -> None:
    if len(ek) != spec.ek_size:
        raise DecodeError(
            f"{spec.name} encapsulation key must be {spec.ek_size} bytes, got {len(ek)}"
        )


def check_ct(spec: KEMSpec, ct: bytes) -> None:
    if len(ct) != spec.ct_size:
        raise DecodeError(f"{spec.name} ciphertext must be {spec.ct_size} bytes, got {len(ct)}")


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


KEMS: Registry[KEM] = Registry("KEM")


def _pyca_supported() -> str:
    """Empty if this cryptography build offers ML-KEM, else the reason it does not."""
    try:
        from cryptography.hazmat.backends.openssl.backend import backend
    except ImportError as exc:  # pragma: no cover - cryptography is a hard dependency
        return f"cryptography is not installed ({exc})"
    if not getattr(backend, "mlkem_supported", lambda: False)():
        return f"cryptography's OpenSSL ({backend.openssl_version_text()}) has no ML-KEM"
    return ""


def _register() -> None:
    from dthq import kem_liboqs

    reason = _pyca_supported()
    for spec in (ML_KEM_768, ML_KEM_1024):
        if reason:
            KEMS.register_unavailable(spec.name, "cryptography", reason)
        else:
            KEMS.register(spec.name, "cryptography", lambda spec=spec: PycaKEM(spec))
    KEMS.register_unavailable(
        ML_KEM_512.name, "cryptography", "cryptography offers ML-KEM-768 and ML-KEM-1024 only"
    )
    kem_liboqs.register(KEMS, list(SPECS.values()))


_register()


@cache
def get_kem(name: str, backend: str | None = None) -> KEM:
    """A KEM instance; cached, as backends hold no per-call state."""
    return KEMS.get(name, backend)


def spec_for_wire_id(wire_id: int) -> KEMSpec:
    try:
        return BY_WIRE_ID[wire_id]
    except KeyError:
        raise UnsupportedError(f"unknown KEM id 0x{wire_id:04x}") from None
