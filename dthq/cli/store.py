"""``dthq store``: verify, rekey and re-encrypt the twin's encrypted store. Each command
finds the store's completeness head beside the key file (``DB-NAME.head``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from dthq.cli import options, render
from dthq.cli.exit_codes import ExitCode

KEY_FILE = options.key_file(options.KEY_FILE_HELP)


def open_store(db: Path, key_file: Path) -> Any:
    """An existing store, opened with the master secret in ``key_file``: any other file
    (another SQLite database too) is refused as not a store, never changed."""
    from dthq.twin.store import Store, head_beside, master_secret

    if not db.exists():
        raise click.UsageError(f"{db}: no such store")
    with naming(db):
        return Store(db, master_secret(key_file), existing=True, head=head_beside(key_file, db))


@contextmanager
def naming(db: Path) -> Iterator[None]:
    """An SQLite error inside names the store it concerns."""
    from dthq.twin.store import StoreError

    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"{db}: SQLite: {exc}") from None


@click.group()
def store() -> None:
    """The twin's encrypted store (SQLite, AES-256-GCM per reading, key epochs)."""


def _store_command(f: Callable[..., None]) -> click.Command:
    """A store command: the store DB, its --key-file, --json."""
    f = KEY_FILE(options.json_flag()(f))
    return store.command()(click.argument("db", type=click.Path(dir_okay=False, path_type=Path))(f))


@_store_command
def verify(db: Path, key_file: Path, as_json: bool) -> None:
    """Open every stored reading and check each patient's sequence against the head; exit 1
    naming each record that fails authentication and each reading missing (deleted, or
    the file rolled back)."""
    with naming(db):
        verified = open_store(db, key_file).verify()
    if as_json:
        render.emit_json(verified.to_json())
    else:
        click.echo(
            f"{verified.checked} records checked, {len(verified.failed)} failed, "
            f"{len(verified.missing)} gaps (head at commit {verified.commits})"
        )
        for line in (*verified.failed, *verified.missing):
            click.echo(f"  {line}")
        for line in verified.notes:
            click.echo(f"  note: {line}")
    if not verified.ok:
        raise click.exceptions.Exit(ExitCode.FAILED)


@_store_command
def rekey(db: Path, key_file: Path, as_json: bool) -> None:
    """Start a new key epoch; new readings use it, old ones stay readable."""
    from dthq.twin.store import EpochChange

    with naming(db):
        change = EpochChange(open_store(db, key_file).rekey())
    if as_json:
        render.emit_json(change.to_json())
    else:
        click.echo(f"key epoch {change.epoch} started")


@_store_command
def reencrypt(db: Path, key_file: Path, as_json: bool) -> None:
    """Move every reading to the current key epoch (all or nothing)."""
    from dthq.twin.store import EpochChange

    with naming(db):
        s = open_store(db, key_file)
        change = EpochChange(s.epoch, moved=s.reencrypt())
    if as_json:
        render.emit_json(change.to_json())
    else:
        click.echo(f"{change.moved} records moved to key epoch {change.epoch}")


COMMANDS = (store,)
