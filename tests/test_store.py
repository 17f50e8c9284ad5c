"""The twin's encrypted store: sealed at rest with AAD = patient, time, policy, epoch;
idempotent; key epochs, rekeying and re-encryption; tampering named; and a writer killed
with SIGKILL mid-run loses nothing it committed and leaves nothing half-written."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dthq.errors import AuthenticationError
from dthq.harness.telemetry import TelemetryGenerator
from dthq.twin.reading import Reading
from dthq.twin.store import Store, StoreError, master_secret

SECRET = bytes(range(32))


def _readings(n: int, patient: str = "P1", seed: int = 1) -> list[Reading]:
    gen = TelemetryGenerator(seed, patient)
    return [Reading.from_dict(gen.reading()) for _ in range(n)]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "twin.db", SECRET)


def test_round_trip_and_idempotency(store: Store) -> None:
    readings = _readings(5)
    assert store.put(readings) == 5
    assert store.put(readings[:3]) == 0  # stored once per (patient, timestamp)
    assert store.get("P1", readings[2].ts) == readings[2]
    assert list(store.readings("P1")) == readings
    assert store.get("P1", 1) is None


def test_nothing_readable_at_rest(store: Store) -> None:
    store.put(_readings(20))
    store.close()
    wal = store.path.with_name("twin.db-wal")
    raw = store.path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert b'"hr"' not in raw and b"MAX30102" not in raw


def test_the_wrong_master_secret_opens_nothing(store: Store) -> None:
    store.put(_readings(2))
    with pytest.raises(StoreError, match="does not open key epoch 0"):
        Store(store.path, bytes(32))
    with pytest.raises(StoreError, match="at least 32 bytes"):
        Store(store.path, b"short")


def test_rekey_then_reencrypt(store: Store) -> None:
    old = _readings(4)
    store.put(old)
    assert store.rekey() == 1
    new = _readings(3, seed=2, patient="P2")
    store.put(new)
    epochs = dict(
        sqlite3.connect(store.path).execute("SELECT pseud, MAX(epoch) FROM readings GROUP BY pseud")
    )
    assert epochs == {store.pseudonym("P1"): 0, store.pseudonym("P2"): 1}
    assert list(store.readings("P1")) == old  # the old epoch's key is in the keyring
    assert store.reencrypt() == 4
    epochs = {e for (e,) in sqlite3.connect(store.path).execute("SELECT epoch FROM readings")}
    assert epochs == {1}
    reopened = Store(store.path, SECRET)
    assert list(reopened.readings("P1")) == old and list(reopened.readings("P2")) == new
    assert reopened.verify().failed == () and reopened.verify().checked == 7


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ("sealed", "one ciphertext bit flipped"),
        ("policy", "moved to another access policy"),
        ("ts", "moved to another time"),
    ],
)
def test_a_tampered_record_is_named(store: Store, change: str, why: str) -> None:
    readings = _readings(3)
    store.put(readings)
    db = sqlite3.connect(store.path)
    value = db.execute(f"SELECT {change} FROM readings WHERE id = 2").fetchone()[0]
    tampered = {
        "sealed": lambda v: bytes([v[0] ^ 1]) + v[1:],
        "policy": lambda v: "research",
        "ts": lambda v: v + 1,
    }[change](value)
    db.execute(f"UPDATE readings SET {change} = ? WHERE id = 2", (tampered,))
    db.commit()
    ts = db.execute("SELECT ts FROM readings WHERE id = 2").fetchone()[0]
    with pytest.raises(AuthenticationError, match=r"record 2 \(patient 'P1'.*fails authentication"):
        store.get("P1", ts)
    verified = store.verify()
    assert verified.checked == 3 and len(verified.failed) == 1 and "record 2" in verified.failed[0]
    store.rekey()
    with pytest.raises(AuthenticationError, match="record 2"):
        store.reencrypt()  # all or nothing: nothing moved
    epochs = {e for (e,) in db.execute("SELECT epoch FROM readings")}
    assert epochs == {0} and store.get("P1", readings[0].ts) == readings[0]


def test_a_writer_killed_mid_run_keeps_every_commit(tmp_path: Path) -> None:
    """SIGKILL the writer while it commits batches of 50: every batch it reported is
    there and verifies, no batch is there in part, and each has its outbox bundle."""
    path = tmp_path / "twin.db"
    writer = textwrap.dedent(
        f"""
        import sys
        from dthq.harness.telemetry import TelemetryGenerator
        from dthq.twin.reading import Reading
        from dthq.twin.store import Store
        store = Store({str(path)!r}, bytes(range(32)))
        gen = TelemetryGenerator(7, "P1")
        while True:
            store.put([Reading.from_dict(gen.reading()) for _ in range(50)], bundle=b"[]", now_ms=0)
            print("committed", flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    committed = 0
    while committed < 20:
        assert proc.stdout.readline() == "committed\n"
        committed += 1
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = Store(path, SECRET)
    verified = store.verify()
    assert verified.failed == ()
    assert verified.checked >= committed * 50 and verified.checked % 50 == 0
    assert verified.missing == ()  # a kill between commit and head is no loss
    assert store.backlog().unsent * 50 == verified.checked  # each batch's bundle with it


def test_the_store_commands(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from dthq.cli.main import main

    key = tmp_path / "master.key"
    key.write_bytes(SECRET)
    key.chmod(0o600)
    s = Store(tmp_path / "twin.db", SECRET)
    s.put(_readings(4))
    s.close()
    runner = CliRunner()
    db = str(tmp_path / "twin.db")
    out = runner.invoke(main, ["store", "verify", db, "--key-file", str(key), "--json"])
    assert out.exit_code == 0 and '"checked": 4' in out.output, out.output
    assert (
        "key epoch 1 started"
        in runner.invoke(main, ["store", "rekey", db, "--key-file", str(key)]).output
    )
    out = runner.invoke(main, ["store", "reencrypt", db, "--key-file", str(key)])
    assert "4 records moved to key epoch 1" in out.output
    sqlite3.connect(db).execute("UPDATE readings SET ts = ts + 1 WHERE id = 3").connection.commit()
    out = runner.invoke(main, ["store", "verify", db, "--key-file", str(key)])
    assert (
        out.exit_code == 1
        and "4 records checked, 1 failed, 0 gaps" in out.output
        and "record 3" in out.output
    )
    key.chmod(0o644)
    out = runner.invoke(main, ["store", "verify", db, "--key-file", str(key)])
    assert out.exit_code == 2 and "readable by others" in out.output  # a usage error


def test_the_master_secret_is_made_private_and_refused_when_readable(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    with pytest.raises(FileNotFoundError):
        master_secret(path)  # made only when asked to
    made = master_secret(path, create=True)
    assert len(made) == 32 and path.stat().st_mode & 0o777 == 0o600
    assert master_secret(path, create=True) == made == master_secret(path)  # loaded, not remade
    path.chmod(0o640)
    with pytest.raises(StoreError, match="readable by others"):
        master_secret(path)


def test_a_file_that_is_not_sqlite_or_a_missing_folder_is_a_store_error(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database")
    with pytest.raises(StoreError, match="not a store"):
        Store(notes, SECRET)
    with pytest.raises(StoreError, match="no such folder"):
        Store(tmp_path / "missing" / "twin.db", SECRET)


def _key(tmp_path: Path, secret: bytes = SECRET) -> Path:
    key = tmp_path / "master.key"
    key.write_bytes(secret)
    key.chmod(0o600)
    return key


@pytest.mark.parametrize(
    "argv",
    [["store", "verify"], ["store", "rekey"], ["store", "reencrypt"], ["twin", "show", "P1"]],
)
def test_another_sqlite_file_is_not_taken_over(tmp_path: Path, argv: list[str]) -> None:
    from click.testing import CliRunner

    from dthq.cli.main import main

    other = tmp_path / "other.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    key = _key(tmp_path)
    if argv[0] == "store":
        argv = [*argv, str(other), "--key-file", str(key)]
    else:
        argv = [*argv, "--store", str(other), "--key-file", str(key)]
    out = CliRunner().invoke(main, argv)
    assert out.exit_code == 2 and f"{other}: not a store" in out.output, out.output
    tables = {r[0] for r in sqlite3.connect(other).execute("SELECT name FROM sqlite_master")}
    assert tables == {"t"}
    with pytest.raises(StoreError, match="not a store"):
        Store(other, SECRET)  # the consumer, which may make a new store, refuses it too
    with pytest.raises(StoreError, match="no such store"):
        Store(tmp_path / "new.db", SECRET, existing=True)
    assert not (tmp_path / "new.db").exists()


def test_a_record_with_text_for_its_sealed_blob_fails_verify_naming_it(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from dthq.cli.main import main

    s = Store(tmp_path / "twin.db", SECRET)
    s.put(_readings(3))
    s.close()
    db = sqlite3.connect(tmp_path / "twin.db")
    db.execute("UPDATE readings SET sealed = CAST(X'FFFE00' AS TEXT) WHERE id = 2")
    db.commit()
    db.close()
    key = _key(tmp_path)
    out = CliRunner().invoke(
        main, ["store", "verify", str(tmp_path / "twin.db"), "--key-file", str(key)]
    )
    assert out.exit_code == 1 and "3 records checked, 1 failed, 0 gaps" in out.output, out.output
    assert "record 2" in out.output


def test_sqlite_errors_and_a_short_key_name_their_file(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from dthq.cli.main import main

    s = Store(tmp_path / "twin.db", SECRET)
    s.close()
    short = tmp_path / "short.key"
    short.write_bytes(b"12345678")
    short.chmod(0o600)
    db = str(tmp_path / "twin.db")
    out = CliRunner().invoke(main, ["store", "verify", db, "--key-file", str(short)])
    assert out.exit_code == 2 and f"{short}: the master secret must be at least 32" in out.output
    sqlite3.connect(db).execute("DROP TABLE readings").connection.commit()
    sqlite3.connect(db).execute("CREATE TABLE readings (id)").connection.commit()
    out = CliRunner().invoke(main, ["store", "verify", db, "--key-file", str(_key(tmp_path))])
    assert out.exit_code == 2 and f"error: {db}: not a store, or corrupt" in out.output, out.output


# --- completeness: the head outside the database ---------------------------------------


def _two_patients(tmp_path: Path) -> Store:
    s = Store(tmp_path / "twin.db", SECRET)
    s.put(_readings(5))  # P1: 1..5
    s.put(_readings(3, patient="P2", seed=2))  # P2: 1..3
    return s


def _delete(s: Store, pid: str, seqs: tuple[int, ...]) -> None:
    db = sqlite3.connect(s.path)
    marks = ",".join("?" * len(seqs))
    db.execute(
        f"DELETE FROM readings WHERE pseud=? AND seq IN ({marks})", (s.pseudonym(pid), *seqs)
    )
    db.commit()
    db.close()


def test_an_intact_store_verifies_with_no_gap(tmp_path: Path) -> None:
    v = _two_patients(tmp_path).verify()
    assert (v.checked, v.failed, v.missing, v.notes, v.commits) == (8, (), (), (), 2)
    assert v.ok


@pytest.mark.parametrize(
    ("pid", "seqs", "line"),
    [
        ("P1", (1,), "patient 'P1': reading 1 of 5 missing"),  # the first
        ("P1", (3,), "patient 'P1': reading 3 of 5 missing"),  # a middle one
        ("P1", (2, 3), "patient 'P1': readings 2..3 of 5 missing"),
        ("P1", (5,), "patient 'P1': reading 5 of 5 missing"),  # the last
        ("P1", (4, 5), "patient 'P1': readings 4..5 of 5 missing"),
        ("P2", (1, 2, 3), "patient 'P2': all 3 readings missing"),  # a whole patient
    ],
)
def test_a_deleted_reading_is_named(
    tmp_path: Path, pid: str, seqs: tuple[int, ...], line: str
) -> None:
    s = _two_patients(tmp_path)
    _delete(s, pid, seqs)
    v = s.verify()
    assert v.missing == (line,) and v.failed == () and not v.ok
    assert v.checked == 8 - len(seqs)


def test_a_deleted_patient_with_its_sealed_id_is_named_by_pseudonym(tmp_path: Path) -> None:
    s = _two_patients(tmp_path)
    db = sqlite3.connect(s.path)
    db.execute("DELETE FROM readings WHERE pseud=?", (s.pseudonym("P2"),))
    db.execute("DELETE FROM patients WHERE pseud=?", (s.pseudonym("P2"),))
    db.commit()
    assert s.verify().missing == (f"patient pseudonym {s.pseudonym('P2')}: all 3 readings missing",)


def test_a_store_rolled_back_to_an_older_copy_is_caught(tmp_path: Path) -> None:
    s = _two_patients(tmp_path)
    s.close()  # checkpointed: the file alone is the store
    old = s.path.read_bytes()
    s = Store(s.path, SECRET)
    s.put(_readings(7)[5:])  # P1: 6..7
    s.close()
    s.path.write_bytes(old)
    v = Store(s.path, SECRET).verify()
    assert v.missing == (
        "the store is behind its head (commit 2 < 3): rolled back to an older copy",
        "patient 'P1': readings 6..7 of 7 missing",
    )
    # Writing on top of it leaves the gap in place: numbering goes on past the head's.
    s = Store(s.path, SECRET)
    s.put(_readings(8)[7:])
    assert s.verify().missing == ("patient 'P1': readings 6..7 of 8 missing",)


def test_a_crash_between_commit_and_head_is_not_a_loss(tmp_path: Path) -> None:
    s = _two_patients(tmp_path)
    head = s.head_path.read_bytes()
    s.put(_readings(6)[5:])
    s.head_path.write_bytes(head)  # as if killed after the commit, before the head's rename
    s.close()
    v = Store(s.path, SECRET).verify()
    assert v.ok and v.checked == 9 and v.commits == 3
    assert v.notes == (
        "the store is one commit ahead of its head (a crash between the commit and "
        "the head's write): not a loss",
    )
    s = Store(s.path, SECRET)
    s.put(_readings(7)[6:])  # the next writer brings the head up first
    v = s.verify()
    assert v.ok and v.notes == () and v.commits == 4


def test_a_head_two_commits_behind_is_an_older_head(tmp_path: Path) -> None:
    s = Store(tmp_path / "twin.db", SECRET)
    s.put(_readings(1))
    head = s.head_path.read_bytes()
    s.put(_readings(2)[1:])
    s.put(_readings(3)[2:])
    s.head_path.write_bytes(head)
    v = s.verify()
    assert v.missing == ("its head is 2 commits behind the store: an older head (rolled back)",)


def test_storing_again_numbers_nothing(tmp_path: Path) -> None:
    s = Store(tmp_path / "twin.db", SECRET)
    readings = _readings(3)
    assert s.put(readings + readings[:1]) == 3  # a duplicate within the batch too
    assert s.put(readings) == 0
    seqs = [r[0] for r in sqlite3.connect(s.path).execute("SELECT seq FROM readings ORDER BY seq")]
    assert seqs == [1, 2, 3] and s.verify().commits == 1


def test_a_reading_moved_in_its_sequence_fails_authentication(tmp_path: Path) -> None:
    s = _two_patients(tmp_path)
    db = sqlite3.connect(s.path)
    db.execute("UPDATE readings SET seq = 9 WHERE pseud=? AND seq = 5", (s.pseudonym("P1"),))
    db.commit()
    v = s.verify()
    assert len(v.failed) == 1 and "fails authentication" in v.failed[0]
    assert v.missing == ("patient 'P1': readings 5..8 of 9 missing",)


def test_no_patient_id_in_clear(tmp_path: Path) -> None:
    # Ids long enough that random bytes (nonces, ciphertext, pseudonyms) cannot hold them
    # by chance, as a 2-byte "P1" would in about one file in ten.
    pids = ["patient-7f3a9c-ward-east", "patient-41d2e8-ward-west"]
    s = Store(tmp_path / "twin.db", SECRET)
    s.put([Reading(pid, 1_700_000_000_000 + i, 70.0, 97.0, 36.8) for i, pid in enumerate(pids)])
    s.close()
    for path in (s.path, s.head_path):
        raw = path.read_bytes()
        assert not any(pid.encode() in raw for pid in pids)
    assert Store(s.path, SECRET).patients() == sorted(pids)


def test_the_database_its_wal_and_shm_and_the_head_are_made_0600(tmp_path: Path) -> None:
    s = _two_patients(tmp_path)
    files = [s.path, s.path.with_name("twin.db-wal"), s.path.with_name("twin.db-shm"), s.head_path]
    assert {p.name: p.stat().st_mode & 0o777 for p in files} == {p.name: 0o600 for p in files}
    assert not s.head_path.with_name("twin.db.head.tmp").exists()


def test_the_cli_names_the_gap_and_exits_1(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from dthq.cli.main import main

    key = _key(tmp_path)
    db = tmp_path / "twin.db"
    s = Store(db, SECRET)  # the CLI's head is beside the key: here, beside the db too
    s.put(_readings(3))
    s.close()
    _delete(s, "P1", (2,))
    out = CliRunner().invoke(main, ["store", "verify", str(db), "--key-file", str(key)])
    assert out.exit_code == 1, out.output
    assert out.output.splitlines() == [
        "2 records checked, 0 failed, 1 gaps (head at commit 1)",
        "  patient 'P1': reading 2 of 3 missing",
    ]


def _store_file(tmp_path: Path) -> Path:
    s = Store(tmp_path / "twin.db", SECRET)
    for i in range(20):
        s.put(_readings(50, patient=f"P{i}", seed=i))
    s.close()
    return s.path


def _spoil(kind: str, tmp_path: Path) -> tuple[Path, str]:
    """A spoiled store or head, and the file the error must name with what it says."""
    db = _store_file(tmp_path)
    head = db.with_name("twin.db.head")
    if kind == "truncated db":
        db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
        return db, f"{db}: not a store, or corrupt (database disk image is malformed)"
    if kind == "random bytes":
        db.write_bytes(os.urandom(8192))
        return db, f"{db}: not a store, or corrupt (file is not a database)"
    if kind == "foreign sqlite":
        db.unlink()
        head.unlink()
        other = sqlite3.connect(db)
        other.execute("CREATE TABLE t (x)")
        other.commit()
        return db, f"{db}: not a store (no"
    if kind == "format 1":
        db.unlink()
        head.unlink()
        old = sqlite3.connect(db)
        for table in ("keyring", "sessions", "readings"):
            old.execute(f"CREATE TABLE {table} (x)")
        old.commit()
        return db, f"{db}: a format-1 store (patient ids in clear, no completeness head)"
    if kind == "tampered head":
        data = bytearray(head.read_bytes())
        data[40] ^= 1
        head.write_bytes(bytes(data))
        return head, f"{head}: fails authentication (tampered, or made under another master secret)"
    if kind == "truncated head":
        head.write_bytes(head.read_bytes()[:-1])
        return head, f"{head}: truncated (548 bytes for 20 patients)"
    if kind == "head of another store":
        other = Store(tmp_path / "other.db", SECRET)
        other.put(_readings(1))
        head.write_bytes(other.head_path.read_bytes())
        return head, f"{head}: the head of another store"
    assert kind == "missing head"
    head.unlink()
    return head, f"{head}: missing, and {db} has 20 commits (deleted, or the store moved"


SPOILED = [
    "truncated db",
    "random bytes",
    "foreign sqlite",
    "format 1",
    "tampered head",
    "truncated head",
    "head of another store",
    "missing head",
]


@pytest.mark.parametrize("kind", SPOILED)
def test_a_spoiled_store_or_head_is_one_error_line_naming_the_file(
    tmp_path: Path, kind: str
) -> None:
    from click.testing import CliRunner

    from dthq.cli.main import main

    key = _key(tmp_path)
    named, message = _spoil(kind, tmp_path)
    db = str(tmp_path / "twin.db")
    for argv in (
        ["store", "verify", db, "--key-file", str(key)],
        ["twin", "show", "P1", "--store", db, "--key-file", str(key)],
    ):
        out = CliRunner().invoke(main, argv)
        assert out.exit_code == 2, (argv, out.output)
        assert out.output.startswith(f"error: {message}") and out.output.count("\n") == 1, (
            out.output
        )
    with pytest.raises(StoreError, match=f"^{named}: "):
        Store(tmp_path / "twin.db", SECRET).verify()


@pytest.mark.parametrize(("size", "ok"), [(69, True), (68, False)])  # an empty head is 69 bytes
def test_the_shortest_head_is_its_fixed_part_and_mac(size: int, ok: bool) -> None:
    from dthq.twin import store_head

    data = store_head.encode(store_head.Head(bytes(16)), b"k" * 32)
    assert len(data) == 69
    if ok:
        assert store_head.decode(data[:size], b"k" * 32, bytes(16)) == store_head.Head(bytes(16))
    else:
        with pytest.raises(store_head.HeadError, match=r"^truncated \(68 bytes\)$"):
            store_head.decode(data[:size], b"k" * 32, bytes(16))


def test_a_second_writer_of_one_store_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    first = Store(tmp_path / "twin.db", b"k" * 32)
    second = Store(tmp_path / "twin.db", b"k" * 32)
    first.claim_writer()
    first.claim_writer()  # the same object again: a no-op
    with pytest.raises(StoreError, match="another consumer writes this store"):
        second.claim_writer()
    first.close()
    second.claim_writer()  # the lock went with the first
    second.close()
    assert (tmp_path / "twin.db.lock").stat().st_mode & 0o777 == 0o600
