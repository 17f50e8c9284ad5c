"""The store's maintained counters (dthq.twin.store_counts): kept in the write's own
transaction, so a writer killed between transactions leaves them right; checked on
open and rebuilt from the rows when they disagree (an older build, an edit); and a
store filled through the bulk path numbers, deduplicates and counts as it always did."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dthq.harness.store_cost import PATIENTS, batch, fill
from dthq.twin.reading import Reading
from dthq.twin.store import Backlog, Store

SECRET = bytes(range(32))
COUNTED = "SELECT COUNT(*), COUNT(*) - COUNT(next_ms), MIN(created_ms) FROM outbox"


def _by_rows(store: Store) -> dict[str, tuple[int, int]]:
    """Each patient's (last sequence number, latest timestamp), from the rows themselves."""
    rows = store._db.execute("SELECT pseud, MAX(seq), MAX(ts) FROM readings GROUP BY pseud")
    return {pseud: (seq, ts) for pseud, seq, ts in rows}


def _tally(store: Store) -> dict[str, tuple[int, int]]:
    rows = store._db.execute("SELECT pseud, last_seq, last_ts FROM tally")
    return {pseud: (seq, ts) for pseud, seq, ts in rows}


def _backlog_counted(store: Store) -> Backlog:
    """The backlog as the store used to compute it: counted over the outbox."""
    return Backlog(*store._db.execute(COUNTED).fetchone())


def _seqs(store: Store, pid: str) -> list[tuple[int, int]]:
    return store._db.execute(
        "SELECT seq, ts FROM readings WHERE pseud=? ORDER BY seq", (store.pseudonym(pid),)
    ).fetchall()


def test_puts_after_10k_bulk_rows_number_dedupe_and_count_as_before(tmp_path: Path) -> None:
    store = Store(tmp_path / "twin.db", SECRET)
    assert fill(store, 10_000) == 10_000
    assert store._db.execute("SELECT COUNT(*) FROM readings").fetchone() == (10_000,)
    assert _tally(store) == _by_rows(store) and len(_tally(store)) == PATIENTS
    assert max(seq for seq, _ in _tally(store).values()) == 500  # 10,000 over 20

    fresh = batch(10_000, 20)
    assert store.put(fresh, bundle=b"[]", now_ms=5) == 20
    assert store.put(fresh, bundle=b"[]", now_ms=6) == 0  # stored again: nothing new
    p0 = fresh[0].pid
    latest = fresh[0].ts
    at_latest = Reading(p0, latest, 70.0, 97.0, 36.8)  # the latest stored: looked up, a duplicate
    just_past = Reading(p0, latest + 1, 70.0, 97.0, 36.8)  # after it: new without a lookup
    older_gap = Reading(p0, latest - 500, 70.0, 97.0, 36.8)  # older, never stored: new
    older_dup = batch(0, 1)[0]  # the first bulk reading again
    assert store.put([at_latest, older_dup], bundle=b"[]", now_ms=7) == 0
    assert store.put([just_past, older_gap, older_gap], bundle=b"[]", now_ms=8) == 2
    assert _seqs(store, p0)[-3:] == [(501, latest), (502, latest + 1), (503, latest - 500)]
    assert _tally(store) == _by_rows(store)
    assert _tally(store)[store.pseudonym(p0)] == (503, latest + 1)

    # Every put that stored nothing still queued its bundle, as before.
    assert store.backlog() == _backlog_counted(store) == Backlog(4, 0, 5)
    due = store.outbox_due(10, limit=2)
    store.outbox_failed(due[0].id, "fhir 4xx", None)  # parked
    store.outbox_failed(due[1].id, "fhir 5xx", 100)  # retried later
    assert store.backlog() == _backlog_counted(store) == Backlog(4, 1, 5)
    store.outbox_failed(due[0].id, "fhir 5xx", 50)  # unparked
    store.outbox_sent(due[1].id)
    store.outbox_sent(due[1].id)  # already gone: nothing changes
    store.outbox_failed(due[1].id, "fhir 5xx", None)  # gone: nothing changes
    assert store.backlog() == _backlog_counted(store) == Backlog(3, 0, 5)
    assert store.outbox_next_ms() == 7
    verified = store.verify()
    assert verified.ok and verified.checked == 10_022


def test_counters_survive_a_writer_killed_between_transactions(tmp_path: Path) -> None:
    """SIGKILL the writer mid-run: reopened, the counters agree with the rows (nothing
    to rebuild) and the next put numbers on from them."""
    path = tmp_path / "twin.db"
    writer = textwrap.dedent(
        f"""
        from dthq.harness.store_cost import batch
        from dthq.twin.store import Store
        store = Store({str(path)!r}, bytes(range(32)))
        n = 0
        while True:
            store.put(batch(n, 40, 4), bundle=b"[]", now_ms=n)
            n += 40
            if n % 400 == 0:
                store.outbox_sent(store.outbox_due(n, 1)[0].id)
                store.outbox_failed(store.outbox_due(n, 1)[0].id, "fhir 4xx", None)
            print("committed", flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for _ in range(25):
        assert proc.stdout.readline() == "committed\n"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = Store(path, SECRET)
    assert store.counters_rebuilt is False
    assert _tally(store) == _by_rows(store) and len(_tally(store)) == 4
    assert store.backlog() == _backlog_counted(store)
    (rows,) = store._db.execute("SELECT COUNT(*) FROM readings").fetchone()
    assert store.put(batch(rows, 4, 4)) == 4
    assert _tally(store) == _by_rows(store)
    assert store.verify().ok


EDITS = {
    "a patient's last number lowered": "UPDATE tally SET last_seq = last_seq - 1",
    "a patient's latest time lowered": "UPDATE tally SET last_ts = last_ts - 1",
    "a tally row for a patient with no reading": "INSERT INTO tally VALUES ('00', 1, 1)",
    "no tally (an older build's store)": "DROP TABLE tally",
    "no outbox index": "DROP INDEX outbox_due",
    "the unsent count off by one": "UPDATE meta SET v = v + 1 WHERE k = 'outbox_unsent'",
    "the parked count off by one": "UPDATE meta SET v = v - 1 WHERE k = 'outbox_parked'",
    "no outbox counts": "DELETE FROM meta WHERE k LIKE 'outbox_%'",
}


def _two_patients(path: Path) -> Store:
    store = Store(path, SECRET)
    for n in range(0, 40, 10):
        store.put(batch(n, 10, 2), bundle=b"[]", now_ms=n)
    store.outbox_failed(store.outbox_due(100, 1)[0].id, "fhir 4xx", None)
    return store


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_counters_that_disagree_with_the_rows_are_rebuilt_on_open(
    tmp_path: Path, edit: str
) -> None:
    store = _two_patients(tmp_path / "twin.db")
    store.close()
    db = sqlite3.connect(tmp_path / "twin.db")
    db.execute(edit)
    db.commit()
    db.close()
    store = Store(tmp_path / "twin.db", SECRET)
    assert store.counters_rebuilt is True
    assert _tally(store) == _by_rows(store)
    assert store.backlog() == _backlog_counted(store) == Backlog(4, 1, 0)
    again = Store(tmp_path / "twin.db", SECRET)
    assert again.counters_rebuilt is False  # once
    again.close()
    assert store.put(batch(40, 2, 2)) == 2
    assert [s for s, _ in _seqs(store, batch(40, 1, 2)[0].pid)][-2:] == [20, 21]
    assert store.verify().ok


def test_a_patient_missing_from_the_tally_is_numbered_from_its_rows(tmp_path: Path) -> None:
    """Not a disagreement (nothing is rebuilt): a write looks that patient up by index."""
    store = _two_patients(tmp_path / "twin.db")
    pid = batch(0, 1, 2)[0].pid
    store._db.execute("DELETE FROM tally WHERE pseud=?", (store.pseudonym(pid),))
    store.close()
    store = Store(tmp_path / "twin.db", SECRET)
    assert store.counters_rebuilt is False
    older_dup = batch(0, 1, 2)[0]
    assert store.put([older_dup, *batch(40, 2, 2)]) == 2
    assert [s for s, _ in _seqs(store, pid)][-1] == 21
    assert _tally(store) == _by_rows(store) and store.verify().ok


def test_the_head_rewrites_what_changed_and_holds_every_patients_last_number(
    tmp_path: Path,
) -> None:
    """Entries stay where each patient was first written (new ones appended); the file is
    what a full encoding of the same head gives, after a reopen too."""
    from dthq.twin import store_head

    def r(pid: str, ts: int) -> Reading:
        return Reading(pid, ts, 70.0, 97.0, 36.8)

    path = tmp_path / "twin.db"
    store = Store(path, SECRET)
    store.put([r("a", 1), r("b", 1)])
    store.put([r("c", 1), r("a", 2)])
    store.close()
    store = Store(path, SECRET)
    store.put([r("b", 2), r("d", 1), r("b", 3)])
    data = store.head_path.read_bytes()
    head = store_head.decode(data, store._head_key, store.store_id)
    p = store.pseudonym
    assert list(head.last.items()) == [
        (bytes.fromhex(p("a")), 2),
        (bytes.fromhex(p("b")), 3),
        (bytes.fromhex(p("c")), 1),
        (bytes.fromhex(p("d")), 1),
    ]
    assert head.commits == 3 and store_head.encode(head, store._head_key) == data
    assert store.verify().ok


@pytest.mark.parametrize(("n", "until"), [(3, 10**15), (3, 1005), (3, 1004), (10, 1002), (0, 1005)])
def test_recent_is_the_tail_of_the_readings_up_to_a_time(
    tmp_path: Path, n: int, until: int
) -> None:
    """What a restart rebuilds each twin from, by index: the same as filtering every
    reading and keeping the last n."""
    store = Store(tmp_path / "twin.db", SECRET)
    store.put([Reading("P", 1000 + t, 70.0, 97.0, 36.8) for t in (5, 0, 3, 1, 4, 2, 9)])
    every = [r for r in store.readings("P") if r.ts <= until]
    assert store.recent("P", n, until) == (every[-n:] if n else [])
    assert store.recent("nobody", n, until) == []
