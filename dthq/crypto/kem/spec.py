"""What every ML-KEM backend shares: parameter sets, wire ids, the interface, length checks.

Wire identifiers are the TLS NamedGroup code points for pure ML-KEM
(draft-ietf-tls-mlkem), so a HELLO names its KEM the way a TLS ClientHello would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dthq.errors import DecodeError, UnsupportedError


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


def spec_for_wire_id(wire_id: int) -> KEMSpec:
    try:
        return BY_WIRE_ID[wire_id]
    except KeyError:
        raise UnsupportedError(f"unknown KEM id 0x{wire_id:04x}") from None
