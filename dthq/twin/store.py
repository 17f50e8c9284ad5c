"""The twin's encrypted store: SQLite in WAL mode, every reading sealed with AES-256-GCM.

- AAD = patient id, timestamp, access-policy tag and key epoch (the paper's Eq. 7, plus
  the epoch), so a sealed reading moved to another row, patient or policy fails to open.
- Key epochs: :meth:`Store.rekey` starts a new epoch; new readings use it, old ones stay
  readable through the keyring; :meth:`Store.reencrypt` moves every reading to the
  current epoch in one transaction (all or nothing).
- The keyring is in the database only wrapped (AES-256-GCM under a key-encryption key
  derived with HKDF from a master secret the caller holds, e.g. a 0600 key file kept
  apart from the data): no data key is stored in clear beside the data.
- A reading is stored once per (patient, timestamp): storing it again changes nothing.
- Reading a tampered record raises :class:`~dthq.errors.AuthenticationError` naming it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dthq.crypto.aead import Cipher, get_aead
from dthq.crypto.hkdf import hkdf
from dthq.errors import AuthenticationError, DTHQError
from dthq.twin.reading import Reading

AEAD = "AES-256-GCM"
NONCE = 12
SCHEMA = """
CREATE TABLE IF NOT EXISTS keyring (
    epoch INTEGER PRIMARY KEY, nonce BLOB NOT NULL, wrapped BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    peer TEXT PRIMARY KEY, nonce BLOB NOT NULL, wrapped BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY, pid TEXT NOT NULL, ts INTEGER NOT NULL, policy TEXT NOT NULL,
    epoch INTEGER NOT NULL REFERENCES keyring(epoch), nonce BLOB NOT NULL,
    sealed BLOB NOT NULL, UNIQUE (pid, ts)
);
"""


class StoreError(DTHQError):
    """The store cannot be opened or used as asked (wrong master secret, bad policy)."""


@dataclass(frozen=True)
class Verified:
    checked: int
    failed: tuple[str, ...]  # one line per record that did not open

    def to_json(self) -> dict[str, object]:
        return {"checked": self.checked, "failed": list(self.failed)}


@dataclass(frozen=True)
class EpochChange:
    """What a rekey or a re-encryption leaves: the current key epoch and, for a
    re-encryption, how many readings moved to it."""

    epoch: int
    moved: int | None = None

    def to_json(self) -> dict[str, int]:
        return (
            {"epoch": self.epoch}
            if self.moved is None
            else {"moved": self.moved, "epoch": self.epoch}
        )


def master_secret(path: Path, *, create: bool = False) -> bytes:
    """The master secret in ``path``; with ``create``, made (32 random bytes, mode 0600)
    if it is missing. A file group or others can read is refused: it opens every reading."""
    if create and not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
    if path.stat().st_mode & 0o077:
        raise StoreError(f"{path} is readable by others: chmod 600 it")
    secret = path.read_bytes()
    if len(secret) < 32:
        raise StoreError(f"{path}: the master secret must be at least 32 bytes ({len(secret)})")
    return secret


def _aad(pid: str, ts: int, policy: str, epoch: int) -> bytes:
    # Length-prefixed, so no two (pid, policy) pairs encode alike.
    p, t = pid.encode(), policy.encode()
    return (
        struct.pack(">H", len(p))
        + p
        + struct.pack(">QH", ts, len(t))
        + t
        + struct.pack(">I", epoch)
    )


TABLES = frozenset({"keyring", "sessions", "readings"})
# Blob columns read as blobs whatever a tampered row holds (TEXT that is not UTF-8 would
# otherwise abort the query, not fail that one record).
ROW = "id, pid, ts, policy, epoch, CAST(nonce AS BLOB), CAST(sealed AS BLOB)"


class Store:
    """The store at ``path``. With ``existing``, it must already be a store: nothing is
    created (no file, no tables, no key epoch). Without, a missing or empty file becomes
    a new store; any other SQLite file is refused, never taken over."""

    def __init__(self, path: str | Path, master_secret: bytes, *, existing: bool = False) -> None:
        if len(master_secret) < 32:
            raise StoreError("the master secret must be at least 32 bytes")
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise StoreError(f"{self.path.parent}: no such folder for the store")
        if existing and not self.path.is_file():
            raise StoreError(f"{self.path}: no such store")
        try:
            # The pipeline opens the store on one thread and writes on its consumer
            # thread; a write and ``close`` exclude each other (``_lock``), so a store
            # closed under a running consumer refuses the write instead of crashing.
            uri = f"{self.path.resolve().as_uri()}?mode={'rw' if existing else 'rwc'}"
            self._db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            tables = {
                row[0]
                for row in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if (tables or existing) and tables & TABLES != TABLES:
                self._db.close()
                raise StoreError(
                    f"{self.path}: not a store (no {', '.join(sorted(TABLES))} tables)"
                )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # a committed reading survives a crash
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a store ({exc})") from None
        self._lock = threading.Lock()
        kek = hkdf("sha256", master_secret, b"dthq twin store", b"key-encryption key", 32)
        self._kek = get_aead(AEAD).new(kek)
        self._keys: dict[int, Cipher] = {}
        for epoch, nonce, wrapped in self._db.execute("SELECT epoch, nonce, wrapped FROM keyring"):
            try:
                key = self._kek.decrypt(nonce, wrapped, struct.pack(">I", epoch))
            except AuthenticationError:
                raise StoreError(
                    f"{self.path}: the master secret does not open key epoch {epoch}"
                ) from None
            self._keys[epoch] = get_aead(AEAD).new(key)
        if not self._keys:
            if existing:
                raise StoreError(f"{self.path}: not a store (no key epoch)")
            self.rekey()

    @property
    def epoch(self) -> int:
        return max(self._keys)

    def close(self) -> None:
        with self._lock:  # after the write in progress, if any
            self._db.close()

    def rekey(self) -> int:
        """Start a new key epoch: new readings are sealed under a fresh key."""
        epoch = max(self._keys, default=-1) + 1
        key, nonce = os.urandom(32), os.urandom(NONCE)
        wrapped = self._kek.encrypt(nonce, key, struct.pack(">I", epoch))
        self._db.execute("INSERT INTO keyring VALUES (?, ?, ?)", (epoch, nonce, wrapped))
        self._keys[epoch] = get_aead(AEAD).new(key)
        return epoch

    def put(
        self,
        readings: list[Reading],
        policy: str = "clinical",
        session: tuple[str, bytes] | None = None,
    ) -> int:
        """Seal and store readings in one transaction; returns how many were new.
        ``session`` (peer, saved record-layer state) is committed in the same transaction,
        wrapped like the keyring: after a crash the consumer resumes exactly where its
        stored readings end, so a redelivered message is refused as a replay."""
        if not policy or len(policy) > 64:
            raise StoreError("the access-policy tag must be 1..64 characters")
        epoch, cipher = self.epoch, self._keys[self.epoch]
        rows = []
        for r in readings:
            nonce = os.urandom(NONCE)
            plain = json.dumps(r.to_dict(), separators=(",", ":")).encode()
            sealed = cipher.encrypt(nonce, plain, _aad(r.pid, r.ts, policy, epoch))
            rows.append((r.pid, r.ts, policy, epoch, nonce, sealed))
        wrapped = None if session is None else self._wrap_session(*session)
        with self._transaction():
            before = self._count()
            self._db.executemany(
                "INSERT OR IGNORE INTO readings (pid, ts, policy, epoch, nonce, sealed) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            if wrapped is not None:
                self._db.execute("INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)", wrapped)
            return self._count() - before

    def save_session(self, peer: str, state: bytes) -> None:
        """Save a session's state on its own (after sealing, before sending)."""
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)", self._wrap_session(peer, state)
            )

    def _wrap_session(self, peer: str, state: bytes) -> tuple[str, bytes, bytes]:
        nonce = os.urandom(NONCE)
        return peer, nonce, self._kek.encrypt(nonce, state, b"session " + peer.encode())

    def sessions(self) -> dict[str, bytes]:
        """The saved session states, by peer (see :meth:`put`)."""
        out = {}
        for peer, nonce, wrapped in self._db.execute("SELECT peer, nonce, wrapped FROM sessions"):
            try:
                out[peer] = self._kek.decrypt(nonce, wrapped, b"session " + peer.encode())
            except AuthenticationError:
                raise AuthenticationError(
                    f"{self.path}: saved session of {peer!r} fails authentication"
                ) from None
        return out

    def patients(self) -> list[str]:
        return [
            row[0] for row in self._db.execute("SELECT DISTINCT pid FROM readings ORDER BY pid")
        ]

    def get(self, pid: str, ts: int) -> Reading | None:
        row = self._db.execute(
            f"SELECT {ROW} FROM readings WHERE pid=? AND ts=?",
            (pid, ts),
        ).fetchone()
        return None if row is None else self._open(row)

    def readings(self, pid: str) -> Iterator[Reading]:
        rows = self._db.execute(
            f"SELECT {ROW} FROM readings WHERE pid=? ORDER BY ts",
            (pid,),
        )
        for row in rows:
            yield self._open(row)

    def verify(self) -> Verified:
        """Open every record; list the ones that do not (never stop at the first)."""
        checked, failed = 0, []
        for row in self._db.execute(f"SELECT {ROW} FROM readings ORDER BY id"):
            checked += 1
            try:
                self._open(row)
            except AuthenticationError as exc:
                failed.append(str(exc))
            except (DTHQError, ValueError, TypeError, struct.error) as exc:  # a mangled row
                failed.append(f"record {row[0]}: unreadable ({exc})")
        return Verified(checked, tuple(failed))

    def reencrypt(self) -> int:
        """Move every reading to the current epoch, all in one transaction."""
        epoch, cipher = self.epoch, self._keys[self.epoch]
        rows = self._db.execute(
            f"SELECT {ROW} FROM readings WHERE epoch != ?",
            (epoch,),
        ).fetchall()
        updates = []
        for row in rows:
            reading = self._open(row)  # a tampered record stops the whole re-encryption
            nonce = os.urandom(NONCE)
            plain = json.dumps(reading.to_dict(), separators=(",", ":")).encode()
            aad = _aad(reading.pid, reading.ts, row[3], epoch)
            updates.append((epoch, nonce, cipher.encrypt(nonce, plain, aad), row[0]))
        with self._transaction():
            self._db.executemany(
                "UPDATE readings SET epoch=?, nonce=?, sealed=? WHERE id=?", updates
            )
        return len(updates)

    def _open(self, row: tuple) -> Reading:  # type: ignore[type-arg]
        record_id, pid, ts, policy, epoch, nonce, sealed = row
        name = f"record {record_id} (patient {pid!r}, ts {ts}, policy {policy!r}, epoch {epoch})"
        cipher = self._keys.get(epoch)
        if cipher is None:
            raise AuthenticationError(f"{name}: no key for its epoch")
        try:
            plain = cipher.decrypt(nonce, sealed, _aad(pid, ts, policy, epoch))
        except AuthenticationError:
            raise AuthenticationError(
                f"{name} fails authentication: tampered or misplaced"
            ) from None
        reading = Reading.from_bytes(plain)
        if (reading.pid, reading.ts) != (pid, ts):  # cannot happen with the AAD; belt and braces
            raise AuthenticationError(f"{name} holds another reading")
        return reading

    def _count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM readings").fetchone()[0]

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self._lock)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error: no half-written batch."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self.db, self.lock = db, lock

    def __enter__(self) -> None:
        self.lock.acquire()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()
            raise

    def __exit__(self, kind: object, *_: object) -> None:
        try:
            self.db.execute("ROLLBACK" if kind else "COMMIT")
        finally:
            self.lock.release()
