"""The twin's encrypted store: sealed at rest with AAD = patient, time, policy, epoch;
idempotent; key epochs, rekeying and re-encryption; tampering named; and a writer killed
with SIGKILL mid-run loses nothing it committed and leaves nothing half-written."""

from __future__ import annotations

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
    there and verifies, and no batch is there in part."""
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
            store.put([Reading.from_dict(gen.reading()) for _ in range(50)])
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
