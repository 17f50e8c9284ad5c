"""The cluster's folder, trusted only as far as it is ours: made 0700, refused when it
holds anything but a cluster's files or is a link, and locked while a cluster starts
(two ``dthq cluster up`` at once would each start one)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from dthq.transport.bus import BusError

# What a cluster folder may hold: its own files, and nothing that `up` could clobber.
OWN = frozenset(
    {
        "cluster.json", "cluster.tmp", ".lock", ".erlang.cookie", "definitions.json",
        "enabled_plugins", "epmd.log", "nodes", "erl_crash.dump",
    }
)  # fmt: skip


def _checked(folder: Path) -> None:
    """``folder`` is a real directory of this user's, holding nothing of anyone else's."""
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise BusError(f"{folder}: not a directory (a link is refused)")
    if info.st_uid != os.geteuid():
        raise BusError(f"{folder}: owned by another user")
    foreign = sorted(p.name for p in folder.iterdir() if p.name not in OWN)
    if foreign:
        raise BusError(
            f"{folder}: not a cluster folder (it holds {foreign[0]!r}); give an empty "
            "folder or a new path with --dir"
        )
    for name in OWN:
        path = folder / name
        if path.is_symlink():
            raise BusError(f"{path}: a link is refused in a cluster folder")


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """``folder`` made (0700) if need be, checked, and held locked for the block."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    _checked(folder)
    folder.chmod(0o700)  # the cookie inside is the key to every node
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BusError(
                f"{folder}: another `dthq cluster up` is starting a cluster here"
            ) from None
        yield
    finally:
        os.close(fd)


def fresh_nodes(folder: Path) -> None:
    """An empty ``nodes/`` for a new cluster (a fresh cluster each time)."""
    nodes = folder / "nodes"
    if nodes.exists():
        shutil.rmtree(nodes)
    nodes.mkdir(mode=0o700)


def write_secret(path: Path, text: str) -> None:
    """A file only this user may read, created so from the start (never briefly 0644)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400)
    with os.fdopen(fd, "w") as f:
        f.write(text)
