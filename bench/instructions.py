"""Instructions per operation, counted by callgrind: deterministic where timings drift.

:func:`count` runs bench/icount_driver.py under
``valgrind --tool=callgrind --dump-before=getppid`` against a source tree and turns the
dumps into instructions per operation for every gated figure. The driver's markers
bracket N and then 2N calls of each operation; the difference over N leaves the
interpreter, the imports, the setup and the markers out. ``PYTHONHASHSEED`` is fixed.
What randomness is left (fresh ML-KEM and ML-DSA keys and nonces from OpenSSL; ML-DSA's
rejection loop) is why a figure is an average over N calls.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from dthq.errors import DTHQError, RunAborted
from dthq.harness.results import InstructionCount

DRIVER = Path(__file__).resolve().parent / "icount_driver.py"
TOTALS = re.compile(rb"^totals: (\d+)", re.MULTILINE)


class InstructionCountError(RunAborted):
    """The driver did not run to its end, or left what cannot be read."""


class ValgrindMissing(DTHQError):
    """valgrind is not installed: the environment, not a failed run."""


@dataclass(frozen=True)
class Counts:
    """Instructions per operation by figure key, with what could not be measured."""

    per_op: dict[str, float]
    missing: dict[str, str]
    n: int
    randomised: frozenset[str] = frozenset()
    n_of: dict[str, int] = field(default_factory=dict)  # a figure's own N, if not n

    def records(self) -> tuple[InstructionCount, ...]:
        return tuple(
            InstructionCount(
                key, round(value, 1), self.n_of.get(key, self.n), key in self.randomised
            )
            for key, value in self.per_op.items()
        )


def valgrind_version() -> str | None:
    exe = shutil.which("valgrind")
    if exe is None:
        return None
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or None


def driver_command(tree: Path, which: str, n: int, out: Path, extra: list[str]) -> list[str]:
    return [
        sys.executable,
        str(DRIVER),
        "--tree",
        str(tree),
        "--set",
        which,
        "--n",
        str(n),
        "--out",
        str(out),
        *extra,
    ]


def driver_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)  # the driver puts the measured tree first itself
    return env


def count(
    tree: Path,
    which: str = "quick",
    n: int = 5,
    *,
    only: list[str] | None = None,
    inject_loops: int = 0,
    calibrate: bool = False,
) -> Counts:
    """Instructions per operation of each gated figure of ``tree``'s code."""
    if shutil.which("valgrind") is None:
        raise ValgrindMissing(
            "valgrind is not installed (apt-get install valgrind): instruction counts need it"
        )
    extra = ["--instrument-after-imports"]
    if inject_loops:
        extra.append(f"--inject-loops={inject_loops}")
    if only:
        extra.append("--only=" + ",".join(only))
    if calibrate:
        extra.append("--calibrate")
    with tempfile.TemporaryDirectory(prefix="dthq-icount-") as tmp:
        work = Path(tmp)
        out = work / "figures.json"
        cmd = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",  # the driver switches it on after its imports
            "--dump-before=getppid",
            "--dump-instr=no",
            "--dump-line=no",
            f"--callgrind-out-file={work / 'cg.out'}",
            *driver_command(tree, which, n, out, extra),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=driver_env(), check=False)
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            raise InstructionCountError(
                f"the instruction-count driver failed (exit {proc.returncode}): " + " | ".join(tail)
            )
        report = json.loads(out.read_text())
        totals = _dump_totals(work)
    return _per_op(report, totals)


def _dump_totals(work: Path) -> list[int]:
    """The instruction total of each --dump-before dump, in order (cg.out.1, .2, ...)."""
    dumps = sorted(
        (p for p in work.glob("cg.out.*") if p.suffix[1:].isdigit()),
        key=lambda p: int(p.suffix[1:]),
    )
    totals = []
    for path in dumps:
        found = TOTALS.search(path.read_bytes())
        if found is None:
            raise InstructionCountError(f"callgrind dump {path.name} has no totals line")
        totals.append(int(found.group(1)))
    return totals


def _per_op(report: dict, totals: list[int]) -> Counts:
    figures, n = report["figures"], report["n"]
    # one dump at the start marker, then three per figure: setup, N calls, 2N calls
    if len(totals) != 1 + 3 * len(figures):
        raise InstructionCountError(
            f"expected {1 + 3 * len(figures)} callgrind dumps for {len(figures)} figures, "
            f"got {len(totals)}: something else called getppid()"
        )
    n_of = {key: report.get("n_of", {}).get(key, n) for key in figures}
    per_op = {
        key: (totals[3 + 3 * i] - totals[2 + 3 * i]) / n_of[key] for i, key in enumerate(figures)
    }
    randomised = frozenset(report.get("randomised", ()))
    return Counts(per_op, dict(report["missing"]), n, randomised, n_of)
