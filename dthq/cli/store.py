"""``dthq store``: verify, rekey and re-encrypt the twin's encrypted store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dthq.cli import options, render
from dthq.cli.exit_codes import ExitCode

DB = click.argument("db", type=click.Path(dir_okay=False, path_type=Path))
KEY_FILE = options.key_file(options.KEY_FILE_HELP)


def open_store(db: Path, key_file: Path) -> Any:
    """An existing store, opened with the master secret in ``key_file``."""
    from dthq.twin.store import Store, master_secret

    if not db.exists():
        raise click.UsageError(f"{db}: no such store")
    return Store(db, master_secret(key_file))


@click.group()
def store() -> None:
    """The twin's encrypted store (SQLite, AES-256-GCM per reading, key epochs)."""


@store.command()
@DB
@KEY_FILE
@options.json_flag()
def verify(db: Path, key_file: Path, as_json: bool) -> None:
    """Open every stored reading; exit 1 naming each one that fails authentication."""
    verified = open_store(db, key_file).verify()
    if as_json:
        render.emit_json(verified.to_json())
    else:
        click.echo(f"{verified.checked} records checked, {len(verified.failed)} failed")
        for line in verified.failed:
            click.echo(f"  {line}")
    if verified.failed:
        raise click.exceptions.Exit(ExitCode.FAILED)


@store.command()
@DB
@KEY_FILE
@options.json_flag()
def rekey(db: Path, key_file: Path, as_json: bool) -> None:
    """Start a new key epoch; new readings use it, old ones stay readable."""
    epoch = open_store(db, key_file).rekey()
    if as_json:
        render.emit_json({"epoch": epoch})
    else:
        click.echo(f"key epoch {epoch} started")


@store.command()
@DB
@KEY_FILE
@options.json_flag()
def reencrypt(db: Path, key_file: Path, as_json: bool) -> None:
    """Move every reading to the current key epoch (all or nothing)."""
    s = open_store(db, key_file)
    moved = s.reencrypt()
    if as_json:
        render.emit_json({"moved": moved, "epoch": s.epoch})
    else:
        click.echo(f"{moved} records moved to key epoch {s.epoch}")


COMMANDS = (store,)
