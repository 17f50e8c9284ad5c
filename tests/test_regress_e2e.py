"""The regression gate end to end: real benchmark runs of a small subset, one of them
with DTHQ's own code deliberately slowed (bench/conftest.py's DTHQ_BENCH_SLOWDOWN)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SUBSET = (
    "test_aead_seal_open and AES-256-GCM and cryptography and small"
    " or test_kem and ML-KEM-768"
    " or test_al and 256-far-small and not qkd"
    " or dthq-mlkem768-psk and not tcp"
)


def _bench(out: Path, slowdown: str | None = None) -> Path:
    env = {k: v for k, v in os.environ.items() if k != "DTHQ_BENCH_SLOWDOWN"}
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


def _compare(base: Path, current: Path, threshold: str) -> subprocess.CompletedProcess[str]:
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
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("regress")
    return {
        "base": _bench(root / "base"),
        "again": _bench(root / "again"),
        "slowed": _bench(root / "slowed", slowdown="3"),
    }


def test_slowed_dthq_fails_the_gate(runs: dict[str, Path]) -> None:
    result = _compare(runs["base"], runs["slowed"], "10%")
    assert result.returncode == 1, result.stdout
    assert "dthq-mlkem768-psk handshake_ms" in result.stdout and "slower" in result.stdout


def test_same_code_same_machine_passes(runs: dict[str, Path]) -> None:
    # dthq bench pins itself to one CPU and the gate compares fastest rounds; pinned full
    # reruns on the shared 2-core CI machine passed at 10 %, but short subset runs are
    # noisier: one CI run saw a sub-20 us figure (DTHQ seal+open) move 41 % on unchanged
    # code. So this end-to-end check allows 50 %, still far below the 3x (+200 %)
    # slowdown above; test_reports.py pins the 10 % logic exactly. Wall-clock gates on
    # shared machines are this noisy: instruction counts (issue 11) are the remedy.
    result = _compare(runs["base"], runs["again"], "50%")
    assert result.returncode == 0, result.stdout
