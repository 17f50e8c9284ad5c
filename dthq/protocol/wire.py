"""Handshake messages: strict parsers and their serializers.

Parsers check every length before using it, reject trailing bytes and oversized
input, and raise only :class:`DecodeError`. They check structure, not meaning:
whether a version, KEM or suite is acceptable is the handshake's decision.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import NoReturn

from dthq.crypto.kem.spec import MAX_CT_SIZE, MAX_EK_SIZE
from dthq.errors import DecodeError

VERSION = 1
NONCE_SIZE = 32
MAX_ID_SIZE = 64
MAX_FLIGHT_SIZE = 16 * 1024  # ML-KEM-1024 key share + ML-DSA-87 signature fit well inside

MAX_COOKIE_SIZE = 64

HELLO, REPLY, FINISH, RETRY = 0x01, 0x02, 0x03, 0x04
MESSAGE_NAMES = {HELLO: "HELLO", REPLY: "REPLY", FINISH: "FINISH", RETRY: "RETRY"}

# KEM authentication's code points (config.Auth names them): with these, HELLO carries
# A's encapsulation to B's static KEM key, so the parser must know them.
AUTH_KEM_PSK, AUTH_KEM = 0x04, 0x05
KEM_AUTHS = frozenset({AUTH_KEM_PSK, AUTH_KEM})


class Reader:
    """A cursor over bytes whose every read is bounds-checked."""

    __slots__ = ("_data", "_pos", "_what")

    def __init__(self, data: bytes, what: str) -> None:
        self._data = data
        self._pos = 0
        self._what = what

    def fixed(self, size: int, field: str) -> bytes:
        pos = self._pos
        end = pos + size
        if end > len(self._data):
            self._truncated(size, field)
        self._pos = end
        return self._data[pos:end]

    def u8(self, field: str) -> int:
        pos = self._pos
        if pos >= len(self._data):
            self._truncated(1, field)
        self._pos = pos + 1
        return self._data[pos]

    def u16(self, field: str) -> int:
        pos = self._pos
        if pos + 2 > len(self._data):
            self._truncated(2, field)
        self._pos = pos + 2
        return self._data[pos] << 8 | self._data[pos + 1]

    def vec8(self, field: str, *, min_size: int = 0, max_size: int = 255) -> bytes:
        return self._vector(self.u8(field), field, min_size, max_size)

    def vec16(self, field: str, *, min_size: int = 0, max_size: int = 65535) -> bytes:
        return self._vector(self.u16(field), field, min_size, max_size)

    def _vector(self, size: int, field: str, min_size: int, max_size: int) -> bytes:
        if not min_size <= size <= max_size:
            raise DecodeError(f"{self._what}: {field} length {size} outside {min_size}..{max_size}")
        return self.fixed(size, field)

    def _truncated(self, size: int, field: str) -> NoReturn:
        raise DecodeError(
            f"{self._what}: truncated in {field} (needs {size} bytes, "
            f"{len(self._data) - self._pos} left)"
        )

    def end(self) -> None:
        if self._pos != len(self._data):
            raise DecodeError(f"{self._what}: {len(self._data) - self._pos} trailing bytes")


def _vec8(data: bytes) -> bytes:
    return struct.pack(">B", len(data)) + data


def _vec16(data: bytes) -> bytes:
    return struct.pack(">H", len(data)) + data


def with_confirm(confirmed_part: bytes, confirm: bytes) -> bytes:
    """A REPLY or FINISH from its ``confirmed_part()`` and its confirmation: what
    ``to_bytes`` gives, for a caller that has the confirmed part already."""
    return confirmed_part + _vec8(confirm)


def confirmed_prefix(flight: bytes, confirm: bytes) -> bytes:
    """A parsed REPLY or FINISH but its trailing confirmation: its ``confirmed_part()``
    (the encoding is canonical: a strict parse re-encodes to the same bytes)."""
    return flight[: len(flight) - 1 - len(confirm)]


def _start(data: bytes, expected: int) -> Reader:
    name = MESSAGE_NAMES[expected]
    if len(data) > MAX_FLIGHT_SIZE:
        raise DecodeError(f"{name}: {len(data)} bytes exceeds the {MAX_FLIGHT_SIZE}-byte limit")
    reader = Reader(data, name)
    kind = reader.u8("type")
    if kind != expected:
        raise DecodeError(f"{name}: type byte is 0x{kind:02x}, expected 0x{expected:02x}")
    return reader


def message_type(data: bytes) -> int:
    """The type byte of a flight; used to spot out-of-order flights before parsing."""
    if not data:
        raise DecodeError("empty flight")
    if data[0] not in MESSAGE_NAMES:
        raise DecodeError(f"unknown message type 0x{data[0]:02x}")
    return data[0]


@dataclass(frozen=True)
class Hello:
    """Flight 1, A -> B."""

    version: int
    mode: int
    auth: int
    kem_id: int
    suite_id: int
    id_a: bytes
    nonce_a: bytes
    key_share: bytes  # ML-KEM encapsulation key, or a QKD key id
    cookie: bytes = b""  # empty, or B's RETRY cookie echoed back
    # KEM authentication only (and only then on the wire): A's encapsulation to B's
    # registered static KEM key.
    auth_ciphertext: bytes = b""

    def without_cookie(self) -> bytes:
        """What a cookie is bound to: every field but the cookie itself."""
        if bool(self.auth_ciphertext) != (self.auth in KEM_AUTHS):
            raise ValueError("auth_ciphertext goes with KEM authentication only")  # a bug
        return (
            struct.pack(
                ">BBBBHB", HELLO, self.version, self.mode, self.auth, self.kem_id, self.suite_id
            )
            + _vec8(self.id_a)
            + self.nonce_a
            + _vec16(self.key_share)
            + (_vec16(self.auth_ciphertext) if self.auth in KEM_AUTHS else b"")
        )

    def to_bytes(self) -> bytes:
        return self.without_cookie() + _vec8(self.cookie)

    @classmethod
    def from_bytes(cls, data: bytes) -> Hello:
        r = _start(data, HELLO)
        version, mode, auth = r.u8("version"), r.u8("mode"), r.u8("auth")
        hello = cls(
            version=version,
            mode=mode,
            auth=auth,
            kem_id=r.u16("kem_id"),
            suite_id=r.u8("suite_id"),
            id_a=r.vec8("id_a", min_size=1, max_size=MAX_ID_SIZE),
            nonce_a=r.fixed(NONCE_SIZE, "nonce_a"),
            key_share=r.vec16("key_share", min_size=1, max_size=MAX_EK_SIZE),
            auth_ciphertext=(
                r.vec16("auth_ciphertext", min_size=1, max_size=MAX_CT_SIZE)
                if auth in KEM_AUTHS
                else b""
            ),
            cookie=r.vec8("cookie", max_size=MAX_COOKIE_SIZE),
        )
        r.end()
        return hello


@dataclass(frozen=True)
class Reply:
    """Flight 2, B -> A. ``signature`` is B's ML-DSA signature, empty in psk modes, and in
    KEM authentication of both sides B's encapsulation to A's static KEM key; ``confirm``
    is B's key confirmation."""

    version: int
    id_b: bytes
    nonce_b: bytes
    kem_ciphertext: bytes
    signature: bytes
    confirm: bytes

    def signed_part(self) -> bytes:
        """What B signs: everything before the signature."""
        return (
            struct.pack(">BB", REPLY, self.version)
            + _vec8(self.id_b)
            + self.nonce_b
            + _vec16(self.kem_ciphertext)
        )

    def confirmed_part(self) -> bytes:
        """What B's confirmation MAC covers (with the HELLO): everything before it."""
        return self.signed_part() + _vec16(self.signature)

    def to_bytes(self) -> bytes:
        return self.confirmed_part() + _vec8(self.confirm)

    @classmethod
    def from_bytes(cls, data: bytes) -> Reply:
        r = _start(data, REPLY)
        reply = cls(
            version=r.u8("version"),
            id_b=r.vec8("id_b", min_size=1, max_size=MAX_ID_SIZE),
            nonce_b=r.fixed(NONCE_SIZE, "nonce_b"),
            kem_ciphertext=r.vec16("kem_ciphertext", max_size=MAX_CT_SIZE),
            signature=r.vec16("signature", max_size=8192),
            confirm=r.vec8("confirm", min_size=32, max_size=64),
        )
        r.end()
        return reply


@dataclass(frozen=True)
class Finish:
    """Flight 3, A -> B."""

    version: int
    signature: bytes
    confirm: bytes

    def signed_part(self) -> bytes:
        return struct.pack(">BB", FINISH, self.version)

    def confirmed_part(self) -> bytes:
        return self.signed_part() + _vec16(self.signature)

    def to_bytes(self) -> bytes:
        return self.confirmed_part() + _vec8(self.confirm)

    @classmethod
    def from_bytes(cls, data: bytes) -> Finish:
        r = _start(data, FINISH)
        finish = cls(
            version=r.u8("version"),
            signature=r.vec16("signature", max_size=8192),
            confirm=r.vec8("confirm", min_size=32, max_size=64),
        )
        r.end()
        return finish


@dataclass(frozen=True)
class Retry:
    """B -> A instead of REPLY: "repeat your HELLO with this cookie" (stateless for B)."""

    version: int
    cookie: bytes

    def to_bytes(self) -> bytes:
        return struct.pack(">BB", RETRY, self.version) + _vec8(self.cookie)

    @classmethod
    def from_bytes(cls, data: bytes) -> Retry:
        r = _start(data, RETRY)
        retry = cls(
            version=r.u8("version"),
            cookie=r.vec8("cookie", min_size=1, max_size=MAX_COOKIE_SIZE),
        )
        r.end()
        return retry
