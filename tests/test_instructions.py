"""Instruction counts (bench/instructions.py) and the same-runner A/B gate
(bench/against.py, `dthq compare --against`): counts are repeatable, an injected
slowdown of DTHQ's own code shows up where it was injected and nowhere else, a commit
that makes the handshake slower fails the gate unless its message accepts it, and a
clone with no parent commit passes with one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import instructions
from bench.icount_driver import LOOP_FIGURE
from dthq.harness.results import InstructionCount

pytestmark = pytest.mark.xdist_group("instructions")  # one clone of the repository
ROOT = Path(__file__).resolve().parent.parent
HANDSHAKE, RECORD = "handshake/dthq-mlkem768-psk", "record/256-far-small"


def test_dumps_that_do_not_match_the_figures_are_refused() -> None:
    report = {"figures": [HANDSHAKE], "missing": {}, "n": 2}
    counts = instructions._per_op(report, [900, 50, 1000, 1800])
    assert counts.per_op == {HANDSHAKE: 400.0}
    assert counts.records() == (InstructionCount(HANDSHAKE, 400.0, 2),)
    with pytest.raises(instructions.InstructionCountError, match="something else called"):
        instructions._per_op(report, [900, 50, 1000, 1800, 7])


@pytest.mark.slow
@pytest.mark.requires("valgrind")
def test_counts_repeat_and_an_injected_slowdown_lands_where_injected() -> None:
    plain = [instructions.count(ROOT, n=2, only=[HANDSHAKE, RECORD]) for _ in range(2)]
    for key in (HANDSHAKE, RECORD):
        a, b = (c.per_op[key] for c in plain)
        assert abs(a / b - 1) < 0.01, (key, a, b)  # deterministic to well under the gate's 3 %
    assert plain[0].per_op[HANDSHAKE] > 20 * plain[0].per_op[RECORD]

    loops = 20_000
    slowed = instructions.count(
        ROOT, n=2, only=[HANDSHAKE, RECORD], inject_loops=loops, calibrate=True
    )
    per_loop = slowed.per_op[LOOP_FIGURE] / 10_000
    added = slowed.per_op[HANDSHAKE] - plain[0].per_op[HANDSHAKE]
    assert added == pytest.approx(loops * per_loop, rel=0.05)
    assert slowed.per_op[RECORD] == pytest.approx(plain[0].per_op[RECORD], rel=0.01)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def _dthq_in(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`dthq` run from ``repo``'s own code (PYTHONPATH first, before the editable install)."""
    env = dict(os.environ, PYTHONPATH=str(repo))
    return subprocess.run(
        [sys.executable, "-m", "dthq.cli", *args], cwd=repo, env=env, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("gate") / "repo"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(repo)], check=True)
    for key, value in (("user.name", "gate test"), ("user.email", "gate@test.invalid")):
        _git(repo, "config", key, value)
    return repo


def _slow_down(repo: Path, message: str) -> None:
    """Commit a slower Initiator.start: a pure-Python loop before HELLO is built."""
    path = repo / "dthq" / "protocol" / "handshake.py"
    text = path.read_text()
    marker = "    def start(self) -> bytes:\n"
    assert marker in text
    path.write_text(
        text.replace(marker, marker + "        for _ in range(40_000):\n            pass\n", 1)
    )
    _git(repo, "commit", "--quiet", "-am", message)


@pytest.mark.slow
@pytest.mark.requires("valgrind")
def test_a_slower_commit_fails_the_gate_unless_its_message_accepts_it(clone: Path) -> None:
    figures = f"--figures={HANDSHAKE},{RECORD}"
    same = _dthq_in(clone, "compare", "--against", "HEAD", figures, "--show", "all")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "0 slower" in same.stdout

    _slow_down(clone, "a slower handshake")
    slower = _dthq_in(clone, "compare", "--against", "HEAD~1", figures, "--honour-trailer")
    assert slower.returncode == 3, slower.stdout + slower.stderr
    assert HANDSHAKE in slower.stdout and "slower" in slower.stdout
    assert RECORD not in slower.stdout  # unmoved figures are not listed by default

    _git(clone, "commit", "--quiet", "--amend", "-m",
         "a slower handshake\n\nPerf-Regression-Accepted: the loop is the test's")  # fmt: skip
    accepted = _dthq_in(clone, "compare", "--against", "HEAD~1", figures, "--honour-trailer")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "accepted" in accepted.stdout and "the loop is the test's" in accepted.stdout


def test_a_clone_without_a_parent_passes_with_one_line(clone: Path, tmp_path: Path) -> None:
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "--quiet", "--depth", "1", f"file://{clone}", str(shallow)], check=True
    )
    result = _dthq_in(shallow, "compare", "--against", "HEAD~1")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines == ["gate not run: no commit 'HEAD~1' to compare with (a shallow clone)"]


def test_an_unknown_revision_is_a_one_line_error(clone: Path) -> None:
    result = _dthq_in(clone, "compare", "--against", "no-such-rev")
    assert result.returncode != 0
    assert "not a commit of this repository" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
