"""What provisioning gives each party before a handshake: ids, credentials, what it
proposes or accepts, and (for key-establishment modes that need one) a key provider."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from dthq.crypto.kem import SPECS as KEM_SPECS
from dthq.crypto.signatures import SignatureSpec, SigningKey, spec_named
from dthq.errors import UnsupportedError
from dthq.protocol.suites import SUITES, Suite


class Mode(enum.IntEnum):
    """Key establishment (paper Eq. 2): an ML-KEM exchange, or a key from QKD."""

    MLKEM = 1
    QKD = 2


class Auth(enum.IntEnum):
    PSK = 1
    MLDSA44 = 2
    MLDSA65 = 3

    @property
    def signature(self) -> SignatureSpec | None:
        return {Auth.MLDSA44: spec_named("ML-DSA-44"), Auth.MLDSA65: spec_named("ML-DSA-65")}.get(
            self
        )


def parse_auth(value: int) -> Auth:
    try:
        return Auth(value)
    except ValueError:
        raise UnsupportedError(f"unknown authentication method {value}") from None


class KeyProvider(Protocol):
    """A source of shared keys named by ids, shaped like ETSI GS QKD 014: the initiator
    asks for a new key (``enc_keys``), the responder fetches the same key by its id
    (``dec_keys``). The QKD mode's role Q; any mode may take one through the config."""

    def enc_keys(self, size: int) -> tuple[bytes, bytes]:
        """(key id, key) of a fresh key of ``size`` bytes."""
        ...

    def dec_keys(self, key_id: bytes, size: int) -> bytes:
        """The key named ``key_id``; raises a DTHQError if there is none."""
        ...


@dataclass(frozen=True)
class PeerRecord:
    """What provisioning registered about a peer: its PSK or its ML-DSA public key."""

    auth: Auth
    psk: bytes | None = None
    verify_key: bytes | None = None

    def __post_init__(self) -> None:
        if self.auth is Auth.PSK and (self.psk is None or len(self.psk) < 16):
            raise UnsupportedError("psk authentication needs a PSK of at least 16 bytes")
        if self.auth is not Auth.PSK and not self.verify_key:
            raise UnsupportedError(f"{self.auth.name} authentication needs the peer's public key")


@dataclass(frozen=True)
class InitiatorConfig:
    """Device A: its id, the service it expects, what it proposes, its credentials."""

    id_a: bytes
    id_b: bytes
    suite: Suite
    peer: PeerRecord  # B as registered at A (the PSK, or B's ML-DSA public key)
    kem: str = "ML-KEM-768"
    kem_backend: str | None = None
    signing_key: SigningKey | None = None
    mode: Mode = Mode.MLKEM
    key_provider: KeyProvider | None = None


@dataclass(frozen=True)
class ResponderConfig:
    """Service B: its id, the devices it knows, and what it accepts."""

    id_b: bytes
    devices: Mapping[bytes, PeerRecord]
    signing_keys: Mapping[Auth, SigningKey] = field(default_factory=dict)
    suites: frozenset[int] = frozenset(SUITES)
    kems: frozenset[str] = frozenset(KEM_SPECS)
    kem_backend: str | None = None
    key_provider: KeyProvider | None = None
