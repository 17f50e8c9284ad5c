"""The store's maintained counters, so that no write costs more as the store grows.

- ``tally``: each patient's last sequence number and latest timestamp. A write numbers
  its readings from it (no ``MAX(seq)``) and takes a reading dated after the latest as
  new without looking it up (only an older one is looked up, by index).
- The outbox's unsent and parked bundles, as meta rows: the backlog without a
  ``COUNT(*)``; its indexes make the due, next and oldest bundle a seek, not a scan.

Each counter changes in the transaction that changes what it counts, so a crash
between transactions leaves it right. On open it is checked against the rows (per
patient, by index; the outbox counted once) and rebuilt from them if they disagree:
a store written by an older build, or edited. Nothing here holds a patient id.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

SCHEMA = """
CREATE TABLE IF NOT EXISTS tally (
    pseud TEXT PRIMARY KEY, last_seq INTEGER NOT NULL, last_ts INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_ms);
CREATE INDEX IF NOT EXISTS outbox_age ON outbox (created_ms);
"""
OBJECTS = frozenset({"tally", "outbox_due", "outbox_age"})
UNSENT, PARKED = "outbox_unsent", "outbox_parked"
NEW_STORE = f"INSERT INTO meta VALUES ('{UNSENT}', 0), ('{PARKED}', 0);"
# Two scalar subqueries, not MAX(seq), MAX(ts) in one: each is then one index seek.
_LAST = (
    "SELECT (SELECT MAX(seq) FROM readings WHERE pseud=?1), "
    "(SELECT MAX(ts) FROM readings WHERE pseud=?1)"
)
_CHUNK = 500  # patients a query names (under SQLite's 999 host parameters)
_COUNTED = "SELECT COUNT(*), COUNT(*) - COUNT(next_ms) FROM outbox"  # unsent, parked


def ensure(db: sqlite3.Connection) -> bool:
    """Check the counters against the rows, and rebuild them in one transaction if they
    disagree (or are missing). True if they were rebuilt."""
    db.execute("BEGIN")  # one snapshot: a writer's commit cannot fall between two reads
    try:
        agree = _agree(db)
    finally:
        db.execute("COMMIT")
    if agree:
        return False
    db.execute("BEGIN IMMEDIATE")
    try:
        if not _agree(db):  # another process may have rebuilt them meanwhile
            _rebuild(db)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return True


def _agree(db: sqlite3.Connection) -> bool:
    names = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    if not names >= OBJECTS:
        return False
    meta = dict(db.execute("SELECT k, v FROM meta WHERE k IN (?, ?)", (UNSENT, PARKED)))
    if (meta.get(UNSENT), meta.get(PARKED)) != db.execute(_COUNTED).fetchone():
        return False
    # A patient missing from the tally is not a disagreement: a write looks it up.
    for pseud, seq, ts in db.execute("SELECT pseud, last_seq, last_ts FROM tally").fetchall():
        if db.execute(_LAST, (pseud,)).fetchone() != (seq, ts):
            return False
    return True


def _rebuild(db: sqlite3.Connection) -> None:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("DELETE FROM tally")
    db.execute("INSERT INTO tally SELECT pseud, MAX(seq), MAX(ts) FROM readings GROUP BY pseud")
    unsent, parked = db.execute(_COUNTED).fetchone()
    counts = [(UNSENT, unsent), (PARKED, parked)]
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", counts)


def last(db: sqlite3.Connection, pseuds: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Each patient's (last sequence number, latest timestamp); (0, -1) for one with no
    reading. From the tally, or by index for a patient it lacks."""
    wanted = list(pseuds)
    out: dict[str, tuple[int, int]] = {}
    for at in range(0, len(wanted), _CHUNK):  # one query for a batch's patients
        chunk = wanted[at : at + _CHUNK]
        marks = ",".join("?" * len(chunk))
        query = f"SELECT pseud, last_seq, last_ts FROM tally WHERE pseud IN ({marks})"
        for pseud, seq, ts in db.execute(query, chunk):
            out[pseud] = (seq, ts)
    for pseud in wanted:
        if pseud not in out:
            seq, ts = db.execute(_LAST, (pseud,)).fetchone()
            out[pseud] = (0, -1) if seq is None else (seq, ts)
    return out


def advance(db: sqlite3.Connection, tops: Iterable[tuple[str, int, int]]) -> None:
    """Inside the write's transaction: each (patient, last sequence number, latest
    timestamp) it stored."""
    db.executemany(
        "INSERT INTO tally VALUES (?, ?, ?) ON CONFLICT (pseud) DO UPDATE SET "
        "last_seq = MAX(last_seq, excluded.last_seq), last_ts = MAX(last_ts, excluded.last_ts)",
        tops,
    )


def outbox_changed(db: sqlite3.Connection, unsent: int, parked: int) -> None:
    """Inside the transaction that added, removed, parked or unparked bundles: by how many."""
    db.executemany(
        "UPDATE meta SET v = v + ? WHERE k = ?",
        [(d, k) for d, k in ((unsent, UNSENT), (parked, PARKED)) if d],
    )


def backlog(db: sqlite3.Connection) -> tuple[int, int, int | None]:
    """(unsent, parked, oldest created_ms), in one statement: one snapshot."""
    return db.execute(
        f"SELECT (SELECT v FROM meta WHERE k='{UNSENT}'), (SELECT v FROM meta WHERE "
        f"k='{PARKED}'), (SELECT MIN(created_ms) FROM outbox)"
    ).fetchone()
