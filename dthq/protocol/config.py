"""What provisioning gives each party before a handshake: ids, credentials, what it
proposes or accepts, and (for key-establishment modes that need one) a key provider."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from dthq.crypto.kem import SPECS as KEM_SPECS
from dthq.crypto.kem import DecapsulationKey
from dthq.crypto.signatures import SignatureSpec, SigningKey, spec_named
from dthq.errors import UnsupportedError
from dthq.protocol.cookie import CookieJar, RetryPolicy
from dthq.protocol.keyschedule import early_salt
from dthq.protocol.suites import SUITES, Suite
from dthq.protocol.wire import AUTH_KEM, AUTH_KEM_PSK, MAX_ID_SIZE


def check_id(value: bytes, what: str) -> None:
    """Ids travel as 1-byte-length vectors of at most MAX_ID_SIZE bytes (and in clear)."""
    if not isinstance(value, bytes) or not 1 <= len(value) <= MAX_ID_SIZE:
        size = len(value) if isinstance(value, bytes) else type(value).__name__
        raise UnsupportedError(f"{what} must be 1..{MAX_ID_SIZE} bytes, got {size}")


def check_psk(peer: PeerRecord, suite: Suite) -> None:
    """A PSK shorter than the suite's hash is refused unless explicitly allowed: psk mode
    is only as strong as the PSK, and one HELLO is an offline guessing oracle for it."""
    if peer.psk is not None and len(peer.psk) < suite.hash_len and not peer.allow_short_psk:
        raise UnsupportedError(
            f"the PSK is {len(peer.psk)} bytes; {suite.name} needs at least {suite.hash_len} "
            "(a random key, never a password)"
        )


class Mode(enum.IntEnum):
    """Key establishment (paper Eq. 2): an ML-KEM exchange, a key from QKD (Q, the key
    provider), or both mixed (either alone keeps the session secret)."""

    MLKEM = 1
    QKD = 2
    QKD_MLKEM = 3

    @property
    def label(self) -> str:
        return {Mode.MLKEM: "mlkem", Mode.QKD: "qkd", Mode.QKD_MLKEM: "qkd+mlkem"}[self]

    @classmethod
    def named(cls, label: str) -> Mode:
        for mode in cls:
            if mode.label == label:
                return mode
        choices = ", ".join(m.label for m in cls)
        raise UnsupportedError(f"unknown key establishment mode {label!r}; choose {choices}")


class Auth(enum.IntEnum):
    """How each side proves who it is: a PSK, ML-DSA signatures, or (in the spirit of
    KEMTLS and the EDHOC AuthKEM drafts) B's registered static KEM key, which only B
    can decapsulate to, with A by PSK (KEM_PSK) or by its own static KEM key (KEM)."""

    PSK = 1
    MLDSA44 = 2
    MLDSA65 = 3
    KEM_PSK = AUTH_KEM_PSK
    KEM = AUTH_KEM

    @property
    def signature(self) -> SignatureSpec | None:
        name = _SIGNATURE_NAMES.get(self)  # asked several times a handshake: no dict built
        return None if name is None else spec_named(name)

    @property
    def uses_psk(self) -> bool:
        return self in (Auth.PSK, Auth.KEM_PSK)

    @property
    def static_kem(self) -> bool:
        """B proves itself by decapsulating HELLO's ciphertext to its static KEM key."""
        return self in (Auth.KEM_PSK, Auth.KEM)


_SIGNATURE_NAMES = {Auth.MLDSA44: "ML-DSA-44", Auth.MLDSA65: "ML-DSA-65"}


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
    """What provisioning registered about a peer: its PSK, its ML-DSA public key, or its
    static KEM encapsulation key (B's at A; A's at B under KEM authentication of both)."""

    auth: Auth
    psk: bytes | None = field(default=None, repr=False)
    verify_key: bytes | None = None
    allow_short_psk: bool = False  # 16 bytes up to the suite's hash length; explicit only
    kem_key: bytes | None = None
    # The key schedule's salt from the PSK, by hash: a function of the PSK alone, made at
    # the first handshake with each hash rather than at every one.
    _salts: dict[str, bytes] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.auth.uses_psk and (self.psk is None or len(self.psk) < 16):
            raise UnsupportedError(
                f"{self.auth.name} authentication needs a PSK of at least 16 bytes"
            )
        if self.auth.signature is not None and not self.verify_key:
            raise UnsupportedError(f"{self.auth.name} authentication needs the peer's public key")
        if self.auth is Auth.KEM and not self.kem_key:
            raise UnsupportedError("KEM authentication needs the peer's static KEM key")

    def early_salt(self, hash_name: str) -> bytes:
        """keyschedule.early_salt of this peer's PSK (none unless its auth uses one)."""
        salt = self._salts.get(hash_name)
        if salt is None:
            psk = self.psk if self.auth.uses_psk else None
            salt = self._salts[hash_name] = early_salt(hash_name, psk)
        return salt


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
    sig_backend: str | None = None  # what verifies B's signature (default: the first)
    mode: Mode = Mode.MLKEM
    key_provider: KeyProvider | None = None
    static_kem_key: DecapsulationKey | None = field(default=None, repr=False)  # auth KEM

    def __post_init__(self) -> None:
        if self.peer.auth.static_kem and not self.peer.kem_key:
            raise UnsupportedError("KEM authentication needs the service's static KEM key")
        if self.peer.auth is Auth.KEM and self.static_kem_key is None:
            raise UnsupportedError("KEM authentication needs the device's static KEM key")
        check_id(self.id_a, "the device id")
        check_id(self.id_b, "the service id")
        check_psk(self.peer, self.suite)


@dataclass(frozen=True)
class ResponderConfig:
    """Service B: its id, the devices it knows, and what it accepts."""

    id_b: bytes
    devices: Mapping[bytes, PeerRecord]
    signing_keys: Mapping[Auth, SigningKey] = field(default_factory=dict)
    # B's static KEM keys by KEM name, for KEM authentication.
    static_kem_keys: Mapping[str, DecapsulationKey] = field(default_factory=dict, repr=False)
    suites: frozenset[int] = frozenset(SUITES)
    kems: frozenset[str] = frozenset(KEM_SPECS)
    kem_backend: str | None = None
    sig_backend: str | None = None  # what verifies devices' signatures (default: the first)
    key_provider: KeyProvider | None = None
    retry: RetryPolicy = RetryPolicy.NEVER
    cookies: CookieJar | None = None  # needed unless retry is NEVER
    half_open_ms: int = 10_000  # a handshake waiting for FINISH longer than this expires

    def __post_init__(self) -> None:
        if self.retry is not RetryPolicy.NEVER and self.cookies is None:
            raise UnsupportedError(f"retry policy {self.retry.value} needs a CookieJar")
        check_id(self.id_b, "the service id")
        for device in self.devices:
            check_id(device, "a registered device id")
