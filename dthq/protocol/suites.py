"""Cipher suites: the session key length (the paper's Table 2 KL) fixes AEAD and hash."""

from __future__ import annotations

from dataclasses import dataclass

from dthq.crypto.aead import SPECS as AEAD_SPECS
from dthq.crypto.aead import AEADSpec
from dthq.errors import UnsupportedError

KEY_LENGTHS = (128, 256, 512)


@dataclass(frozen=True)
class Suite:
    wire_id: int
    key_length: int  # bits of symmetric session key
    aead_name: str
    hash_name: str  # for HKDF and the transcript: "sha256" or "sha512" (hashlib names)
    hash_len: int

    @property
    def aead(self) -> AEADSpec:
        return AEAD_SPECS[self.aead_name]

    @property
    def name(self) -> str:
        return f"DTHQ-{self.key_length}-{self.aead_name}-HKDF-{self.hash_name.upper()}"


AES_128_GCM_SHA256 = Suite(0x01, 128, "AES-128-GCM", "sha256", 32)
AES_256_GCM_SHA256 = Suite(0x02, 256, "AES-256-GCM", "sha256", 32)
CHACHA20_POLY1305_SHA256 = Suite(0x03, 256, "ChaCha20-Poly1305", "sha256", 32)
# 512-bit key: AES-256-SIV (RFC 5297: a CMAC key and a CTR key), with SHA-512.
AES_256_SIV_SHA512 = Suite(0x04, 512, "AES-256-SIV", "sha512", 64)

SUITES: dict[int, Suite] = {
    s.wire_id: s
    for s in (AES_128_GCM_SHA256, AES_256_GCM_SHA256, CHACHA20_POLY1305_SHA256, AES_256_SIV_SHA512)
}


def suite_for(key_length: int, *, chacha: bool = False) -> Suite:
    """The suite for a key length; ``chacha`` picks the 256-bit alternative."""
    if chacha:
        if key_length != 256:
            raise UnsupportedError("ChaCha20-Poly1305 is only offered for key length 256")
        return CHACHA20_POLY1305_SHA256
    for suite in SUITES.values():
        if suite.key_length == key_length and suite is not CHACHA20_POLY1305_SHA256:
            return suite
    raise UnsupportedError(
        f"no suite for key length {key_length}; choose one of {', '.join(map(str, KEY_LENGTHS))}"
    )


def suite_by_id(wire_id: int) -> Suite:
    try:
        return SUITES[wire_id]
    except KeyError:
        raise UnsupportedError(f"unknown suite id 0x{wire_id:02x}") from None
