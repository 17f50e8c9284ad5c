"""Same-runner A/B: measure a git revision and this checkout in one job (asv continuous).

:func:`measure` checks REV out into a temporary ``git worktree`` and runs the same
driver (bench/icount_driver.py) against both trees: for instructions once each (counts
do not drift with the machine's load), for time interleaved base, head, base, head, ...
so drift hits both sides alike. Both trees are imported with this environment's
libraries, so only our code differs between the sides: a moved figure is the code's
doing, not a library upgrade's.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench import instructions
from dthq.errors import DTHQError

ROOT = Path(__file__).resolve().parent.parent
TRAILER = "Perf-Regression-Accepted"


class RevisionError(DTHQError):
    """REV is not a commit of this repository (or this is not a git checkout)."""


class NoParent(RevisionError):
    """The clone holds no commit to compare with (a shallow clone, or the first commit)."""


@dataclass
class Side:
    """One side's runs: per-operation figures by key, one dict per run."""

    label: str
    runs: list[dict[str, float]] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)
    randomised: set[str] = field(default_factory=set)


def git(*args: str, cwd: Path = ROOT) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RevisionError(proc.stderr.strip() or f"git {' '.join(args)} failed")
    return proc.stdout.strip()


def resolve(rev: str) -> str:
    """REV as a full commit id; NoParent when the history to reach it is not here."""
    try:
        git("rev-parse", "--git-dir")
    except RevisionError:
        raise RevisionError(f"{ROOT} is not a git checkout: --against needs one") from None
    try:
        return git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except RevisionError:
        shallow = git("rev-parse", "--is-shallow-repository") == "true"
        parents = git("rev-list", "--parents", "-n", "1", "HEAD").split()[1:]
        if shallow or not parents:
            why = "a shallow clone" if shallow else "HEAD is the first commit"
            raise NoParent(f"no commit {rev!r} to compare with ({why})") from None
        raise RevisionError(f"{rev!r} is not a commit of this repository") from None


def head_trailer(name: str = TRAILER) -> str | None:
    """The value of HEAD's ``name:`` trailer (git interpret-trailers' rules), if any."""
    out = git("log", "-1", f"--format=%(trailers:key={name},valueonly,separator=%x00)")
    value = out.split("\0")[0].strip()
    return value or None


@contextlib.contextmanager
def worktree(commit: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="dthq-against-") as tmp:
        path = Path(tmp) / "base"
        git("worktree", "add", "--detach", "--quiet", str(path), commit)
        try:
            yield path
        finally:
            git("worktree", "remove", "--force", str(path))


def clock(
    tree: Path,
    which: str,
    n: int,
    repeat: int,
    only: list[str] | None = None,
    *,
    inject_loops: int = 0,
    calibrate: bool = False,
) -> instructions.Counts:
    """Best-of-``repeat`` seconds per operation of each figure, without valgrind."""
    with tempfile.TemporaryDirectory(prefix="dthq-clock-") as tmp:
        out = Path(tmp) / "figures.json"
        extra = ["--clock", f"--repeat={repeat}"] + (["--only=" + ",".join(only)] if only else [])
        extra += [f"--inject-loops={inject_loops}"] if inject_loops else []
        extra += ["--calibrate"] if calibrate else []
        cmd = instructions.driver_command(tree, which, n, out, extra)
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=instructions.driver_env(), check=False
        )
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise instructions.InstructionCountError(
                f"the timing driver failed (exit {proc.returncode}): " + " | ".join(tail)
            )
        report = json.loads(out.read_text())
    return instructions.Counts(
        report["seconds"], report["missing"], n, frozenset(report.get("randomised", ()))
    )


def measure(
    rev: str,
    metric: str = "instructions",
    which: str = "quick",
    *,
    runs: int = 2,
    only: list[str] | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> tuple[Side, Side]:
    """(base, head): REV's figures and this checkout's, measured by one driver."""
    commit = resolve(rev)
    base, head = Side(f"{rev} ({commit[:10]})"), Side("this checkout")
    with worktree(commit) as tree:
        order = [(base, tree), (head, ROOT)] * (1 if metric == "instructions" else runs)
        for i, (side, path) in enumerate(order, 1):
            progress(f"[{i}/{len(order)}] {metric} of {side.label}")
            if metric == "instructions":
                counts = instructions.count(path, which, n=3, only=only)
            else:
                counts = clock(path, which, n=20, repeat=5, only=only)
            side.runs.append(counts.per_op)
            side.missing.update(counts.missing)
            side.randomised |= counts.randomised
    return base, head
