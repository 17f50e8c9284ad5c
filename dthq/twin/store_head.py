"""The store's completeness head: what the store must hold at least, MAC'd, kept outside it.

Bytes (big-endian)::

    "DTHQHEAD" | version u8 (1) | store id (16) | commits u64 | n u32
    | n x (patient pseudonym (16) | last sequence number u64) | HMAC-SHA256 (32)

The MAC is over everything before it, under a key derived from the master secret, so
the head cannot be edited or taken from another store (the store id is in it). The
head is written after the database's commit, atomically (temporary file, fsync, rename,
fsync of the folder), mode 0600. Parsing is sans-I/O: :func:`decode` takes bytes.

Entries are in the order the patients were first written (a new patient is appended),
so a writer keeps the bytes between commits (:class:`Encoder`) and a commit changes
only its own patients' 8-byte numbers; only the MAC is taken over the whole.
"""

from __future__ import annotations

import hmac
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = b"DTHQHEAD"
VERSION = 1
ID_BYTES = 16
PSEUDONYM_BYTES = 16
_FIXED = struct.Struct(f">{len(MAGIC)}sB{ID_BYTES}sQI")
_ENTRY = struct.Struct(f">{PSEUDONYM_BYTES}sQ")
_NUMBER = struct.Struct(">Q")
MAC_BYTES = 32


class HeadError(ValueError):
    """Bytes that are not a valid head: the reason, without the file (the store adds it)."""


@dataclass(frozen=True)
class Head:
    store_id: bytes
    commits: int = 0  # one more per commit that added readings: the head counter
    last: dict[bytes, int] = field(default_factory=dict)  # pseudonym -> last sequence number


class Encoder:
    """A head's entries kept as bytes between commits: :meth:`update` costs what it
    changes, not the number of patients."""

    def __init__(self, head: Head, key: bytes) -> None:
        self._store_id, self._key = head.store_id, key
        self._at: dict[bytes, int] = {}  # pseudonym -> its entry's offset
        self._entries = bytearray()
        self.update(head.last)

    def update(self, last: Mapping[bytes, int]) -> None:
        for pseud, n in last.items():
            at = self._at.get(pseud)
            if at is None:
                self._at[pseud] = len(self._entries)
                self._entries += _ENTRY.pack(pseud, n)
            else:
                _NUMBER.pack_into(self._entries, at + PSEUDONYM_BYTES, n)

    def encode(self, commits: int) -> bytes:
        body = _FIXED.pack(MAGIC, VERSION, self._store_id, commits, len(self._at))
        body += self._entries
        return body + hmac.digest(self._key, body, "sha256")


def encode(head: Head, key: bytes) -> bytes:
    return Encoder(head, key).encode(head.commits)


def decode(data: bytes, key: bytes, store_id: bytes) -> Head:
    if len(data) < _FIXED.size + MAC_BYTES:
        raise HeadError(f"truncated ({len(data)} bytes)")
    magic, version, found_id, commits, n = _FIXED.unpack_from(data)
    if magic != MAGIC:
        raise HeadError("not a completeness head")
    if version != VERSION:
        raise HeadError(f"head version {version}, this build reads {VERSION}")
    if len(data) != _FIXED.size + n * _ENTRY.size + MAC_BYTES:
        raise HeadError(f"truncated ({len(data)} bytes for {n} patients)")
    body, tag = data[:-MAC_BYTES], data[-MAC_BYTES:]
    if not hmac.compare_digest(tag, hmac.digest(key, body, "sha256")):
        raise HeadError("fails authentication (tampered, or made under another master secret)")
    if found_id != store_id:
        raise HeadError("the head of another store")
    last = dict(_ENTRY.iter_unpack(body[_FIXED.size :]))
    return Head(found_id, commits, last)


def write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably, mode 0600."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a crash
    finally:
        os.close(folder)
