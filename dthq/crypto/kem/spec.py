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
# HQC (NIST's 2025 code-based KEM, PQClean's round-4 sizes) has no TLS code point yet:
# these ids are from TLS's private-use range (0xFE00-0xFEFF). No seeded key generation.
HQC_128 = KEMSpec("HQC-128", 0xFE10, 2241, 4433, seed_size=0)
HQC_192 = KEMSpec("HQC-192", 0xFE11, 4514, 8978, seed_size=0)
HQC_256 = KEMSpec("HQC-256", 0xFE12, 7237, 14421, seed_size=0)

SPECS: dict[str, KEMSpec] = {
    s.name: s for s in (ML_KEM_512, ML_KEM_768, ML_KEM_1024, HQC_128, HQC_192, HQC_256)
}
MAX_EK_SIZE = max(s.ek_size for s in SPECS.values())  # the wire format's bounds
MAX_CT_SIZE = max(s.ct_size for s in SPECS.values())
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
