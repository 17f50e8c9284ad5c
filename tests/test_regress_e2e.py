"""The regression gate end to end: real benchmark runs of a small subset, one of them
with DTHQ's own code deliberately slowed (bench/conftest.py's DTHQ_BENCH_SLOWDOWN)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import outside_xdist

# Five `dthq bench` runs in subprocesses, made once for the module (one xdist worker).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("regress-e2e")]
# The primitives are one benchmark (all of them, in worker processes): the gate's floor.
SUBSET = "test_primitives or test_al and 256-far-small and not qkd or dthq-mlkem768-psk and not tcp"


def _bench(out: Path, slowdown: str | None = None) -> Path:
    env = {k: v for k, v in outside_xdist().items() if k != "DTHQ_BENCH_SLOWDOWN"}
    if slowdown:
        env["DTHQ_BENCH_SLOWDOWN"] = slowdown
    subprocess.run(
        [sys.executable, "-m", "dthq.cli", "bench", "--only", SUBSET, "--out", str(out)],
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out / "results.json"


def _compare(
    base: Path, current: Path, threshold: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dthq.cli",
            "compare",
            str(base),
            str(current),
            "--threshold",
            threshold,
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("regress")
    # Interleaved, as the gate's help advises on a shared machine: base, again, base, again.
    names = ("base", "again", "base2", "again2")
    runs = {name: _bench(root / name) for name in names}
    runs["slowed"] = _bench(root / "slowed", slowdown="3")
    return runs


def test_slowed_dthq_fails_the_gate(runs: dict[str, Path]) -> None:
    result = _compare(runs["base"], runs["slowed"], "10%")
    assert result.returncode == 3, result.stdout
    assert "dthq-mlkem768-psk handshake_ms" in result.stdout and "slower" in result.stdout


def test_same_code_same_machine_passes(runs: dict[str, Path]) -> None:
    # dthq bench pins itself to one CPU and the gate compares fastest rounds, yet single
    # short subset runs on the shared 2-core CI machine have moved 41 % (a sub-20 us
    # seal+open) and 77 % (DTHQ's latency over a whole run) on unchanged code. So each
    # side is two interleaved runs, pooled by fastest round, and the check allows 50 %,
    # still far below the 3x (+200 %) slowdown above; test_reports.py pins the 10 % logic
    # exactly. Instruction counts (``--metric instructions``, bench/instructions.py) are
    # the remedy for wall-clock noise.
    result = _compare(
        runs["base"],
        runs["again"],
        "50%",
        "--baseline-rerun",
        str(runs["base2"]),
        "--current-rerun",
        str(runs["again2"]),
    )
    assert result.returncode == 0, result.stdout
