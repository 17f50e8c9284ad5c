"""Ctrl-C during ``dthq simulate``: the run unwinds in order (bus threads stopped and
their handlers finished, then the store closed) and ends with one line and exit code 3,
whenever the interrupt comes, and however many come."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Seconds after the store appears (the pipeline's first step): during the handshakes,
# then while readings are sealed into the store at the highest rate.
# Odd ones get three Ctrl-Cs in quick succession: one while it unwinds changes nothing.
MOMENTS = (0.0, 0.1, 0.3, 0.6, 1.0)


def _interrupt(tmp: Path, transport: str, after_s: float, times: int = 1) -> tuple[int, str]:
    store = tmp / f"twin-{transport}-{after_s}-{times}.db"
    command = [sys.executable, "-X", "faulthandler", "-m", "dthq.cli", "simulate"]
    command += ["--transport", transport, "--patients", "20", "--rate", "20"]
    command += ["--duration", "30", "--policy", "immediate"]
    command += ["--store", str(store), "--key-file", str(tmp / "master.key")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp
    )
    try:
        deadline = time.monotonic() + 15
        while not store.exists():
            assert child.poll() is None and time.monotonic() < deadline, "no store appeared"
            time.sleep(0.01)
        time.sleep(after_s)
        for _ in range(times):
            child.send_signal(signal.SIGINT)
            time.sleep(0.02)
        _, stderr = child.communicate(timeout=15)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return child.returncode, stderr


@pytest.mark.slow
def test_ctrl_c_during_a_memory_run_exits_3_with_one_line_at_any_moment(tmp_path: Path) -> None:
    for i, after_s in enumerate(MOMENTS):
        times = 3 if i % 2 else 1
        code, stderr = _interrupt(tmp_path, "memory", after_s, times)
        assert code == 3, f"after {after_s} s, {times}x: exit {code}\n{stderr}"
        assert stderr == "error: aborted\n", f"after {after_s} s, {times}x: {stderr!r}"


@pytest.mark.slow
def test_ctrl_c_during_an_mqtt_run_exits_3_with_one_line(tmp_path: Path) -> None:
    # The embedded amqtt broker (started first, stopped last), buses over it, the store.
    code, stderr = _interrupt(tmp_path, "mqtt", 0.5, 2)
    assert code == 3, f"exit {code}\n{stderr}"
    assert stderr == "error: aborted\n", repr(stderr)


# A command whose Ctrl-C lands in a finalizer, where Python swallows any exception.
SWALLOWING = """
import time
import click
from dthq.cli.main import _Group

class Slow:
    def __del__(self):
        print("finalizing", flush=True)
        time.sleep(3)

@click.group(cls=_Group)
def cli():
    pass

@cli.command()
def run():
    Slow()  # no reference kept: its __del__ runs at once, in the main thread
    time.sleep(20)

cli()
"""


@pytest.mark.slow
def test_a_ctrl_c_swallowed_by_a_finalizer_still_aborts_the_command(tmp_path: Path) -> None:
    script = tmp_path / "swallowing.py"
    script.write_text(SWALLOWING)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, str(script), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "finalizing\n"
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=10)  # not the 20 s the command would run
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 3, stderr
    assert stderr == "error: aborted\n"
