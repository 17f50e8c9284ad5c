"""The twin's encrypted store: SQLite in WAL mode, every reading sealed with AES-256-GCM,
and a completeness head outside the database that proves no reading went missing.

- AAD = patient id, timestamp, access-policy tag, key epoch and the reading's sequence
  number (the paper's Eq. 7, plus the epoch and the number), so a sealed reading moved to
  another row, patient, policy or place in its patient's sequence fails to open.
- Completeness: each patient's readings are numbered 1, 2, 3, ... as they are stored, and
  the head (:mod:`dthq.twin.store_head`, a MAC'd file beside the master secret's key
  file) holds each patient's last number and a commit counter. :meth:`Store.verify` names
  every number missing (a deleted row, a whole patient) and a store behind its head (an
  older copy of the file); a store one commit ahead of its head is a crash between the
  commit and the head's write, not a loss.
- Metadata: a patient's row key is a pseudonym (HMAC-SHA256 of the id under a key derived
  from the master secret); the id itself is only sealed. Timestamps, policy tags, key
  epochs, sequence numbers and how many readings each pseudonym has stay in clear.
- Key epochs: :meth:`Store.rekey` starts a new epoch; new readings use it, old ones stay
  readable through the keyring; :meth:`Store.reencrypt` moves every reading (and every
  unsent FHIR bundle) to the current epoch in one transaction (all or nothing).
- The keyring is in the database only wrapped (AES-256-GCM under a key-encryption key
  derived with HKDF from a master secret the caller holds, e.g. a 0600 key file kept
  apart from the data): no data key is stored in clear beside the data.
- The FHIR outbox: each batch's Bundle, sealed, commits with its readings; a sender
  (:mod:`dthq.pipeline.outbox`) deletes it once delivered.
- A reading is stored once per (patient, timestamp): storing it again changes nothing.
- No write costs more as the store grows: the counters it numbers readings and counts
  the outbox from (:mod:`dthq.twin.store_counts`) change in the write's own
  transaction, and are checked (and if need be rebuilt) on open.
- Files are made mode 0600 (the database, its -wal and -shm, the head). A file that is
  not a store of this format, or a head that does not verify, is a one-line
  :class:`StoreError` naming it; a tampered record is an
  :class:`~dthq.errors.AuthenticationError` naming it.

One process writes a store at a time (the consumer); any number may read it.
"""

from __future__ import annotations

import fcntl
import hmac
import json
import os
import sqlite3
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from dthq.crypto.aead import Cipher, get_aead
from dthq.crypto.hkdf import hkdf
from dthq.errors import AuthenticationError, DTHQError
from dthq.twin import store_counts, store_head
from dthq.twin.reading import Reading
from dthq.twin.store_head import Head, HeadError

AEAD = "AES-256-GCM"
NONCE = 12
PSEUDONYMS_HELD = 65_536  # pseudonyms a store keeps worked out (then starts afresh)
FORMAT = 2  # 1: patient ids in clear, no sequence numbers, no head, no outbox
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS keyring (
    epoch INTEGER PRIMARY KEY, nonce BLOB NOT NULL, wrapped BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    peer TEXT PRIMARY KEY, nonce BLOB NOT NULL, wrapped BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS patients (
    pseud TEXT PRIMARY KEY, nonce BLOB NOT NULL, sealed BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY, pseud TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,
    policy TEXT NOT NULL, epoch INTEGER NOT NULL REFERENCES keyring(epoch),
    nonce BLOB NOT NULL, sealed BLOB NOT NULL, UNIQUE (pseud, ts), UNIQUE (pseud, seq)
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, created_ms INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_ms INTEGER, outcome TEXT, epoch INTEGER NOT NULL, nonce BLOB NOT NULL,
    sealed BLOB NOT NULL
);
"""
TABLES = frozenset({"meta", "keyring", "sessions", "patients", "readings", "outbox"})
OLD_TABLES = frozenset({"keyring", "sessions", "readings"})  # format 1's
# Blob columns read as blobs whatever a tampered row holds (TEXT that is not UTF-8 would
# otherwise abort the query, not fail that one record).
ROW = "id, pseud, seq, ts, policy, epoch, CAST(nonce AS BLOB), CAST(sealed AS BLOB)"


class StoreError(DTHQError):
    """The store cannot be opened or used as asked (wrong master secret, bad policy, a
    corrupt or foreign file, a head that does not verify)."""


@dataclass(frozen=True)
class Verified:
    checked: int
    failed: tuple[str, ...]  # one line per record that did not open
    missing: tuple[str, ...] = ()  # one line per gap: deleted readings, a rolled-back file
    notes: tuple[str, ...] = ()  # not failures: a crash between commit and head
    commits: int = 0  # the head counter the store is at

    @property
    def ok(self) -> bool:
        return not self.failed and not self.missing

    def to_json(self) -> dict[str, object]:
        return {
            "checked": self.checked,
            "failed": list(self.failed),
            "missing": list(self.missing),
            "notes": list(self.notes),
            "commits": self.commits,
        }


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


@dataclass(frozen=True)
class Outgoing:
    """An outbox entry due for sending: the Bundle's bytes, opened."""

    id: int
    body: bytes
    attempts: int
    created_ms: int


@dataclass(frozen=True)
class Backlog:
    """The outbox: bundles not yet delivered (parked ones included), and the oldest's
    creation time."""

    unsent: int
    parked: int  # refused for good (a 4xx): they stay, named, and are not retried
    oldest_ms: int | None

    @property
    def pending(self) -> int:
        """Bundles the sender will still try."""
        return self.unsent - self.parked


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


def head_beside(key_file: Path, db: Path) -> Path:
    """Where the CLI keeps the head of store ``db``: beside its master secret's key file,
    apart from the data."""
    return key_file.parent / f"{db.name}.head"


def _aad(pid: str, ts: int, policy: str, epoch: int, seq: int) -> bytes:
    # Length-prefixed, so no two (pid, policy) pairs encode alike.
    p, t = pid.encode(), policy.encode()
    return (
        struct.pack(">H", len(p))
        + p
        + struct.pack(">QH", ts, len(t))
        + t
        + struct.pack(">IQ", epoch, seq)
    )


def _outbox_aad(created_ms: int, epoch: int) -> bytes:
    return b"outbox" + struct.pack(">QI", created_ms, epoch)


def _gaps(have: list[int], top: int) -> list[tuple[int, int]]:
    """The runs of 1..top missing from the sorted ``have``."""
    out, expect = [], 1
    for n in [*have, top + 1]:
        if n > expect:
            out.append((expect, n - 1))
        expect = max(expect, n + 1)
    return out


class Store:
    """The store at ``path``, its head at ``head`` (default: beside the database; the CLI
    keeps it beside the key file). With ``existing``, it must already be a store: nothing
    is created (no file, no tables, no key epoch). Without, a missing or empty file
    becomes a new store; any other SQLite file is refused, never taken over."""

    def __init__(
        self,
        path: str | Path,
        master_secret: bytes,
        *,
        existing: bool = False,
        head: Path | None = None,
    ) -> None:
        if len(master_secret) < 32:
            raise StoreError("the master secret must be at least 32 bytes")
        self.path = Path(path)
        self.head_path = head if head is not None else self.path.with_name(self.path.name + ".head")
        if not self.path.parent.is_dir():
            raise StoreError(f"{self.path.parent}: no such folder for the store")
        if existing and not self.path.is_file():
            raise StoreError(f"{self.path}: no such store")
        if not existing:
            # Made 0600 before SQLite opens it: its -wal and -shm take the file's mode.
            with suppress(FileExistsError):
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

        def derive(info: bytes) -> bytes:
            return hkdf("sha256", master_secret, b"dthq twin store", info, 32)

        self._kek = get_aead(AEAD).new(derive(b"key-encryption key"))
        self._pseudonym_key = derive(b"patient pseudonym key")
        self._head_key = derive(b"completeness head")
        # The pipeline opens the store on one thread and writes on its consumer thread
        # (and its outbox sender on another); a write and ``close`` exclude each other,
        # so a store closed under a running consumer refuses the write instead of crashing.
        self._lock = threading.RLock()
        with self._naming():
            self._open_db(existing)
            self._keys = self._load_keyring(existing)
            self.store_id = bytes(self._meta("store_id"))
            self._head = self._load_head(self._read_head_file(), self._meta("commits"))
        self._caught_up = False
        self._pseuds: dict[str, str] = {}  # pid -> pseudonym, at most PSEUDONYMS_HELD
        self._named: set[str] = set()  # pseudonyms whose patients row this writer committed
        self._encoder: store_head.Encoder | None = None  # made at the first head write

    # --- opening -----------------------------------------------------------------------

    def _open_db(self, existing: bool) -> None:
        uri = f"{self.path.resolve().as_uri()}?mode={'rw' if existing else 'rwc'}"
        self._db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        tables = {
            row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if tables >= OLD_TABLES and "meta" not in tables:
            self._db.close()
            raise StoreError(
                f"{self.path}: a format-1 store (patient ids in clear, no completeness head); "
                f"this build reads format {FORMAT} only: make a new store"
            )
        if (tables or existing) and not tables >= TABLES:
            self._db.close()
            raise StoreError(f"{self.path}: not a store (no {', '.join(sorted(TABLES))} tables)")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed reading survives a crash
        if not tables:  # a new store: its tables and identity in one transaction
            self._db.executescript(
                f"BEGIN IMMEDIATE; {SCHEMA} INSERT INTO meta VALUES ('format', {FORMAT}), "
                "('store_id', randomblob(16)), ('commits', 0); "
                f"{store_counts.SCHEMA} {store_counts.NEW_STORE} COMMIT;"
            )
        found = self._meta("format", required=False)
        if found != FORMAT:
            self._db.close()
            raise StoreError(
                f"{self.path}: store format {found!r}, this build reads format {FORMAT}"
            )
        self.counters_rebuilt = store_counts.ensure(self._db)

    def _load_keyring(self, existing: bool) -> dict[int, Cipher]:
        keys: dict[int, Cipher] = {}
        for epoch, nonce, wrapped in self._db.execute("SELECT epoch, nonce, wrapped FROM keyring"):
            try:
                key = self._kek.decrypt(nonce, wrapped, struct.pack(">I", epoch))
            except AuthenticationError:
                raise StoreError(
                    f"{self.path}: the master secret does not open key epoch {epoch}"
                ) from None
            keys[epoch] = get_aead(AEAD).new(key)
        self._keys = keys
        if not keys:
            if existing:
                raise StoreError(f"{self.path}: not a store (no key epoch)")
            self.rekey()
        return self._keys

    def _meta(self, key: str, *, required: bool = True) -> object:
        row = self._db.execute("SELECT v FROM meta WHERE k=?", (key,)).fetchone()
        if row is None:
            if not required:
                return None
            raise StoreError(f"{self.path}: not a store (no {key} in its meta table)")
        return row[0]

    def _read_head_file(self) -> bytes | None:
        try:
            return self.head_path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"{self.head_path}: cannot read the head ({exc.strerror})") from None

    def _load_head(self, data: bytes | None, commits: object) -> Head:
        if data is None:
            if commits:
                raise StoreError(
                    f"{self.head_path}: missing, and {self.path} has {commits} commits "
                    "(deleted, or the store moved without its head)"
                )
            return Head(self.store_id)
        try:
            return store_head.decode(data, self._head_key, self.store_id)
        except HeadError as exc:
            raise StoreError(f"{self.head_path}: {exc}") from None

    @contextmanager
    def _naming(self) -> Iterator[None]:
        """An SQLite error inside is a one-line StoreError naming the file."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a store, or corrupt ({exc})") from None

    # --- keys ----------------------------------------------------------------------------

    @property
    def epoch(self) -> int:
        return max(self._keys)

    def close(self) -> None:
        with self._lock:  # after the write in progress, if any
            self._db.close()
            writer, self._writer = getattr(self, "_writer", None), None
            if writer is not None:
                os.close(writer)  # and the writer's lock with it

    def claim_writer(self) -> None:
        """Be this store's one writer of sessions, or fail: two consumers resuming the
        same saved session would seal under one key with the same sequence numbers (a
        nonce used twice). An exclusive lock on ``<store>.lock``, held until close; a
        second claim from this object is a no-op, one from another process or object
        is refused."""
        if getattr(self, "_writer", None) is not None:
            return
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(
                f"{self.path}: another consumer writes this store (it holds {lock})"
            ) from None
        self._writer = fd

    def rekey(self) -> int:
        """Start a new key epoch: new readings are sealed under a fresh key."""
        epoch = max(self._keys, default=-1) + 1
        key, nonce = os.urandom(32), os.urandom(NONCE)
        wrapped = self._kek.encrypt(nonce, key, struct.pack(">I", epoch))
        with self._lock:
            self._db.execute("INSERT INTO keyring VALUES (?, ?, ?)", (epoch, nonce, wrapped))
        self._keys[epoch] = get_aead(AEAD).new(key)
        return epoch

    def pseudonym(self, pid: str) -> str:
        """A patient's row key: the id's HMAC, so the database holds no patient id in clear."""
        pseud = self._pseuds.get(pid)
        if pseud is None:
            if len(self._pseuds) >= PSEUDONYMS_HELD:
                self._pseuds.clear()
            pseud = hmac.digest(self._pseudonym_key, pid.encode(), "sha256")[:16].hex()
            self._pseuds[pid] = pseud
        return pseud

    # --- writing -------------------------------------------------------------------------

    def put(
        self,
        readings: list[Reading],
        policy: str = "clinical",
        session: tuple[str, bytes] | None = None,
        *,
        bundle: bytes | None = None,
        now_ms: int | None = None,
    ) -> int:
        """Seal and store readings in one transaction; returns how many were new.
        ``session`` (peer, saved record-layer state) is committed in the same transaction,
        wrapped like the keyring: after a crash the consumer resumes exactly where its
        stored readings end, so a redelivered message is refused as a replay. ``bundle``
        (the readings' FHIR Bundle, made at ``now_ms``) goes into the outbox in the same
        transaction: a stored reading is never one whose Bundle was dropped."""
        if not policy or len(policy) > 64:
            raise StoreError("the access-policy tag must be 1..64 characters")
        if bundle is not None and now_ms is None:
            raise StoreError("an outbox bundle needs the time it was made (now_ms)")
        wrapped = None if session is None else self._wrap_session(*session)
        with self._lock:
            named: set[str] = set()
            with self._transaction():
                added, head = self._insert(readings, policy, named)
                if wrapped is not None:
                    self._db.execute("INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)", wrapped)
                if bundle is not None:
                    assert now_ms is not None
                    epoch, nonce = self.epoch, os.urandom(NONCE)
                    sealed = self._keys[epoch].encrypt(nonce, bundle, _outbox_aad(now_ms, epoch))
                    self._db.execute(
                        "INSERT INTO outbox (created_ms, next_ms, epoch, nonce, sealed) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (now_ms, now_ms, epoch, nonce, sealed),
                    )
                    store_counts.outbox_changed(self._db, 1, 0)
            self._named |= named  # committed: their rows need not be sealed again
            if head is not None:  # after the commit: a crash between leaves the store ahead
                self._write_head(*head)
            return added

    def _insert(
        self, readings: list[Reading], policy: str, named: set[str]
    ) -> tuple[int, tuple[int, dict[bytes, int]] | None]:
        """Inside put's transaction: the new readings numbered, sealed and inserted; the
        head's commit counter and changed numbers to write once they commit (None:
        nothing new). ``named`` gets the patients whose row this transaction holds."""
        commits = int(self._meta("commits"))  # type: ignore[call-overload]
        if not self._caught_up:
            self._catch_up(commits)
        db = self._db
        pseuds = {pid: self.pseudonym(pid) for pid in {r.pid for r in readings}}
        tally = store_counts.last(db, set(pseuds.values()))
        fresh: list[tuple[str, Reading]] = []
        seen: set[tuple[str, int]] = set()
        for r in readings:
            key = (pseuds[r.pid], r.ts)
            if key in seen:
                continue
            # Dated after the patient's latest stored reading: new, no lookup needed.
            if (
                r.ts <= tally[key[0]][1]
                and db.execute("SELECT 1 FROM readings WHERE pseud=? AND ts=?", key).fetchone()
            ):
                continue
            seen.add(key)
            fresh.append((key[0], r))
        if not fresh:
            return 0, None
        head_last, last = self._head.last, {}  # the batch's patients only
        epoch, cipher = self.epoch, self._keys[self.epoch]
        rows, patients = [], {}
        # One read of the system's random source for the batch's nonces, not one a reading.
        nonces = os.urandom(NONCE * 2 * len(fresh))
        for i, (pseud, r) in enumerate(fresh):
            if pseud not in last:
                # Past the head's number too: after a rollback the gap stays visible.
                last[pseud] = max(head_last.get(bytes.fromhex(pseud), 0), tally[pseud][0])
                if pseud not in self._named:  # a row committed before is never rewritten
                    nonce = nonces[NONCE * (2 * i + 1) : NONCE * (2 * i + 2)]
                    patients[pseud] = (
                        pseud,
                        nonce,
                        self._kek.encrypt(nonce, r.pid.encode(), b"patient " + pseud.encode()),
                    )
            last[pseud] += 1
            nonce = nonces[NONCE * 2 * i : NONCE * (2 * i + 1)]
            plain = json.dumps(r.to_dict(), separators=(",", ":")).encode()
            sealed = cipher.encrypt(nonce, plain, _aad(r.pid, r.ts, policy, epoch, last[pseud]))
            rows.append((pseud, last[pseud], r.ts, policy, epoch, nonce, sealed))
        db.executemany("INSERT OR IGNORE INTO patients VALUES (?, ?, ?)", list(patients.values()))
        named.update(patients)
        db.executemany(
            "INSERT INTO readings (pseud, seq, ts, policy, epoch, nonce, sealed) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        latest: dict[str, int] = {}
        for pseud, r in fresh:
            latest[pseud] = max(latest.get(pseud, -1), r.ts)
        store_counts.advance(db, [(p, last[p], ts) for p, ts in latest.items()])
        new_commits = max(commits, self._head.commits) + 1
        db.execute("UPDATE meta SET v=? WHERE k='commits'", (new_commits,))
        return len(rows), (new_commits, {bytes.fromhex(p): n for p, n in last.items()})

    def _catch_up(self, commits: int) -> None:
        """This writer's first write: a store found ahead of its head (a crash after a
        commit) gets its head brought up to it, under the write lock, before anything new."""
        if commits > self._head.commits:
            pseuds = [row[0] for row in self._db.execute("SELECT pseud FROM patients")]
            ahead = {
                bytes.fromhex(pseud): top
                for pseud, (top, _) in store_counts.last(self._db, pseuds).items()
                if top > self._head.last.get(bytes.fromhex(pseud), 0)
            }
            self._write_head(commits, ahead)
        self._caught_up = True

    def _write_head(self, commits: int, changed: dict[bytes, int]) -> None:
        """The head at ``commits``, with ``changed`` patients' last numbers: the cost of
        what changed (and one MAC over the file), not of every patient's entry."""
        if self._encoder is None:
            self._encoder = store_head.Encoder(self._head, self._head_key)
        self._encoder.update(changed)
        store_head.write(self.head_path, self._encoder.encode(commits))
        self._head.last.update(changed)
        self._head = Head(self.store_id, commits, self._head.last)

    def save_session(self, peer: str, state: bytes) -> None:
        """Save a session's state on its own (after sealing, before sending)."""
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)", self._wrap_session(peer, state)
            )

    def _wrap_session(self, peer: str, state: bytes) -> tuple[str, bytes, bytes]:
        nonce = os.urandom(NONCE)
        return peer, nonce, self._kek.encrypt(nonce, state, b"session " + peer.encode())

    # --- reading -------------------------------------------------------------------------

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
        names, failed = self._names()
        if failed:
            raise AuthenticationError(failed[0])
        stored = {  # a seek per patient, not a scan of every reading
            row[0]
            for row in self._db.execute(
                "SELECT pseud FROM patients p WHERE EXISTS "
                "(SELECT 1 FROM readings r WHERE r.pseud = p.pseud)"
            )
        }
        return sorted(pid for pseud, pid in names.items() if pseud in stored)

    def _names(self) -> tuple[dict[str, str], list[str]]:
        """Pseudonym -> patient id, and a line for each sealed id that does not open."""
        names, failed = {}, []
        for pseud, nonce, sealed in self._db.execute(
            "SELECT pseud, CAST(nonce AS BLOB), CAST(sealed AS BLOB) FROM patients"
        ):
            try:
                pid = self._kek.decrypt(nonce, sealed, b"patient " + pseud.encode()).decode()
            except (AuthenticationError, UnicodeDecodeError):
                failed.append(f"patient pseudonym {pseud}: its sealed id fails authentication")
                continue
            if self.pseudonym(pid) != pseud:
                failed.append(f"patient pseudonym {pseud}: holds another patient's id")
                continue
            names[pseud] = pid
        return names, failed

    def get(self, pid: str, ts: int) -> Reading | None:
        row = self._db.execute(
            f"SELECT {ROW} FROM readings WHERE pseud=? AND ts=?", (self.pseudonym(pid), ts)
        ).fetchone()
        return None if row is None else self._open(row, pid)

    def readings(self, pid: str) -> Iterator[Reading]:
        rows = self._db.execute(
            f"SELECT {ROW} FROM readings WHERE pseud=? ORDER BY ts", (self.pseudonym(pid),)
        )
        for row in rows:
            yield self._open(row, pid)

    def recent(self, pid: str, n: int, until_ts: int) -> list[Reading]:
        """A patient's latest ``n`` readings dated at most ``until_ts``, oldest first: an
        index seek and ``n`` rows, however many the store holds (a restart's twins)."""
        rows = self._db.execute(
            f"SELECT {ROW} FROM readings WHERE pseud=? AND ts<=? ORDER BY ts DESC LIMIT ?",
            (self.pseudonym(pid), until_ts, n),
        ).fetchall()
        return [self._open(row, pid) for row in reversed(rows)]

    def verify(self) -> Verified:
        """Open every record (listing the ones that do not, never stopping at the first),
        and check every patient's sequence against the head."""
        # The head first, then the database: a commit in between can only leave the
        # database ahead of the head read, never behind it.
        data = self._read_head_file()
        checked, failed = 0, []
        have: dict[str, list[int]] = {}
        with self._lock, self._naming():
            self._db.execute("BEGIN")  # one snapshot for the whole check
            try:
                commits = int(self._meta("commits"))  # type: ignore[call-overload]
                head = self._load_head(data, commits)
                names, failed = self._names()
                for row in self._db.execute(f"SELECT {ROW} FROM readings ORDER BY id"):
                    checked += 1
                    pseud, seq = row[1], row[2]
                    have.setdefault(pseud, []).append(seq)
                    try:
                        pid = names.get(pseud)
                        if pid is None:
                            raise AuthenticationError(
                                f"record {row[0]} (pseudonym {pseud}): no patient of that pseudonym"
                            )
                        self._open(row, pid)
                    except AuthenticationError as exc:
                        failed.append(str(exc))
                    except (DTHQError, ValueError, TypeError, struct.error) as exc:  # mangled
                        failed.append(f"record {row[0]}: unreadable ({exc})")
            finally:
                self._db.execute("COMMIT")
        missing, notes = _completeness(head, commits, have, names)
        return Verified(checked, tuple(failed), tuple(missing), tuple(notes), commits)

    def reencrypt(self) -> int:
        """Move every reading and unsent bundle to the current epoch, in one transaction."""
        epoch, cipher = self.epoch, self._keys[self.epoch]
        names, _ = self._names()
        rows = self._db.execute(f"SELECT {ROW} FROM readings WHERE epoch != ?", (epoch,)).fetchall()
        updates = []
        for row in rows:
            pid = names.get(row[1])
            if pid is None:
                raise AuthenticationError(f"record {row[0]}: no patient of its pseudonym")
            reading = self._open(row, pid)  # a tampered record stops the whole re-encryption
            nonce = os.urandom(NONCE)
            plain = json.dumps(reading.to_dict(), separators=(",", ":")).encode()
            aad = _aad(reading.pid, reading.ts, row[4], epoch, row[2])
            updates.append((epoch, nonce, cipher.encrypt(nonce, plain, aad), row[0]))
        bundles = []
        for entry_id, created, old, nonce, sealed in self._db.execute(
            "SELECT id, created_ms, epoch, nonce, sealed FROM outbox WHERE epoch != ?", (epoch,)
        ).fetchall():
            body = self._open_bundle(entry_id, created, old, nonce, sealed)
            fresh = os.urandom(NONCE)
            bundles.append(
                (epoch, fresh, cipher.encrypt(fresh, body, _outbox_aad(created, epoch)), entry_id)
            )
        with self._transaction():
            self._db.executemany(
                "UPDATE readings SET epoch=?, nonce=?, sealed=? WHERE id=?", updates
            )
            self._db.executemany("UPDATE outbox SET epoch=?, nonce=?, sealed=? WHERE id=?", bundles)
        return len(updates)

    def _open(self, row: tuple, pid: str) -> Reading:  # type: ignore[type-arg]
        record_id, _, seq, ts, policy, epoch, nonce, sealed = row
        name = f"record {record_id} (patient {pid!r}, ts {ts}, policy {policy!r}, epoch {epoch})"
        cipher = self._keys.get(epoch)
        if cipher is None:
            raise AuthenticationError(f"{name}: no key for its epoch")
        try:
            plain = cipher.decrypt(nonce, sealed, _aad(pid, ts, policy, epoch, seq))
        except AuthenticationError:
            raise AuthenticationError(
                f"{name} fails authentication: tampered or misplaced"
            ) from None
        reading = Reading.from_bytes(plain)
        if (reading.pid, reading.ts) != (pid, ts):  # cannot happen with the AAD; belt and braces
            raise AuthenticationError(f"{name} holds another reading")
        return reading

    # --- the FHIR outbox -------------------------------------------------------------------

    def outbox_due(self, now_ms: int, limit: int = 16) -> list[Outgoing]:
        """Bundles whose next attempt is due at ``now_ms``, oldest first (parked ones never)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, created_ms, attempts, epoch, CAST(nonce AS BLOB), CAST(sealed AS BLOB) "
                "FROM outbox WHERE next_ms IS NOT NULL AND next_ms <= ? ORDER BY next_ms, id "
                "LIMIT ?",
                (now_ms, limit),
            ).fetchall()
        out = []
        for entry_id, created, attempts, epoch, nonce, sealed in rows:
            try:
                body = self._open_bundle(entry_id, created, epoch, nonce, sealed)
            except AuthenticationError:
                self.outbox_failed(entry_id, "unreadable", None)  # parked: named, not sent
                continue
            out.append(Outgoing(entry_id, body, attempts, created))
        return out

    def _open_bundle(
        self, entry_id: int, created: int, epoch: int, nonce: bytes, sealed: bytes
    ) -> bytes:
        cipher = self._keys.get(epoch)
        try:
            if cipher is None:
                raise AuthenticationError("no key")
            return cipher.decrypt(nonce, sealed, _outbox_aad(created, epoch))
        except AuthenticationError:
            raise AuthenticationError(f"outbox entry {entry_id} fails authentication") from None

    def outbox_next_ms(self) -> int | None:
        """When the next unparked bundle is due (None: none is waiting)."""
        with self._lock:
            return self._db.execute("SELECT MIN(next_ms) FROM outbox").fetchone()[0]

    def outbox_sent(self, entry_id: int) -> None:
        with self._transaction():
            gone = self._db.execute(
                "DELETE FROM outbox WHERE id=? RETURNING next_ms IS NULL", (entry_id,)
            ).fetchall()
            if gone:
                store_counts.outbox_changed(self._db, -1, -gone[0][0])

    def outbox_failed(self, entry_id: int, outcome: str, next_ms: int | None) -> None:
        """One more failed attempt, its outcome, and when to try again (None: parked)."""
        with self._transaction():
            was = self._db.execute(
                "SELECT next_ms IS NULL FROM outbox WHERE id=?", (entry_id,)
            ).fetchone()
            if was is None:
                return
            self._db.execute(
                "UPDATE outbox SET attempts=attempts+1, outcome=?, next_ms=? WHERE id=?",
                (outcome, next_ms, entry_id),
            )
            store_counts.outbox_changed(self._db, 0, (next_ms is None) - was[0])

    def backlog(self) -> Backlog:
        with self._lock:
            unsent, parked, oldest = store_counts.backlog(self._db)
        return Backlog(unsent, parked, oldest)

    def outcomes(self) -> dict[str, int]:
        """The last outcome of each unsent bundle, counted (parked ones and retried ones)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT outcome, COUNT(*) FROM outbox WHERE outcome IS NOT NULL GROUP BY outcome"
            ).fetchall()
        return dict(rows)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error: no half-written batch."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")


def _completeness(
    head: Head, commits: int, have: dict[str, list[int]], names: dict[str, str]
) -> tuple[list[str], list[str]]:
    """What the store lacks against its head: (missing, notes)."""
    missing, notes = [], []
    if commits < head.commits:
        missing.append(
            f"the store is behind its head (commit {commits} < {head.commits}): "
            "rolled back to an older copy"
        )
    elif commits == head.commits + 1:
        notes.append(
            "the store is one commit ahead of its head (a crash between the commit and "
            "the head's write): not a loss"
        )
    elif commits > head.commits + 1:
        missing.append(
            f"its head is {commits - head.commits} commits behind the store: an older head "
            "(rolled back)"
        )
    last = {p.hex(): n for p, n in head.last.items()}
    for pseud in sorted(set(have) | set(last), key=lambda p: names.get(p, p)):
        seqs = sorted(have.get(pseud, []))
        top = max(seqs[-1] if seqs else 0, last.get(pseud, 0))
        who = f"patient {names[pseud]!r}" if pseud in names else f"patient pseudonym {pseud}"
        if not seqs:
            missing.append(f"{who}: all {top} readings missing")
            continue
        for a, b in _gaps(seqs, top):
            which = f"reading {a}" if a == b else f"readings {a}..{b}"
            missing.append(f"{who}: {which} of {top} missing")
    return missing, notes
