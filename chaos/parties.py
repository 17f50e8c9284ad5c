"""The suite's processes: each party (broker, cloud, gateway, devices) a child process
with its own log, started until ready, killed with SIGKILL, started again.

Readiness is what the party itself says (a ready file it writes once it is subscribed
and connected), never a sleep; a party that exits before it is ready is reported with
the last lines of its own log, so a failure says what failed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from dthq.errors import RunAborted

START_S = 60.0  # the longest wait for a party to say it is ready
TAIL_BYTES = 1500


class PartyError(RunAborted):
    """A party did not start, or died when it should not have."""


def tail(log: Path, n: int = TAIL_BYTES) -> str:
    try:
        return log.read_bytes()[-n:].decode(errors="replace").strip()
    except OSError:
        return ""


class Party:
    """One child process. ``argv`` may hold ``{ready}``, replaced by the ready file's path;
    ``ready`` says it is ready otherwise (a port that answers, a line in its log)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        folder: Path,
        ready: Callable[[Party], bool] | None = None,
    ) -> None:
        self.name = name
        self.log = folder / f"{name}.log"
        self.ready_file = folder / f"{name}.ready"
        self._argv = [a.replace("{ready}", str(self.ready_file)) for a in argv]
        self._ready = ready or (lambda party: party.ready_file.exists())
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_mark = 0
        self.starts = 0
        self.kills = 0

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = START_S) -> float:
        """Start it and wait until it is ready; the seconds that took."""
        self.ready_file.unlink(missing_ok=True)
        self._log_mark = self.log.stat().st_size if self.log.exists() else 0
        began = time.monotonic()
        with self.log.open("ab") as log:
            log.write(f"--- start {self.starts + 1}: {' '.join(self._argv)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self._argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.starts += 1
        deadline = began + timeout
        while not self._ready(self):
            if self.proc.poll() is not None:
                raise PartyError(
                    f"{self.name} exited with {self.proc.returncode} before it was ready: "
                    f"{tail(self.log) or 'no output'}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise PartyError(f"{self.name} was not ready in {timeout:g} s: {tail(self.log)}")
            time.sleep(0.02)
        return time.monotonic() - began

    def said(self, line: str) -> bool:
        """Whether this start's output holds ``line`` (a party that prints "ready")."""
        try:
            with self.log.open("rb") as f:
                f.seek(self._log_mark)
                return line.encode() in f.read().splitlines()
        except OSError:
            return False

    def signal(self, sig: int) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL, mid-whatever it was doing (its whole process group)."""
        if self.alive:
            assert self.proc is not None
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            self.kills += 1

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL if it does not stop in ``timeout``; its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        return self.proc.returncode

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise PartyError(
                f"{self.name} died with {self.proc.returncode}: {tail(self.log) or 'no output'}"
            )
