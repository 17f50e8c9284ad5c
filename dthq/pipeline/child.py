"""A party of a ``processes=True`` run as the runner sees it: its process, driven over
stdin (:mod:`dthq.pipeline.party` lists the commands), its JSON answers read from
stdout on a thread, its stderr in a log whose last line names what went wrong when it
dies."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

from dthq.errors import RunAborted

ANSWER_S = 30.0  # the longest wait for an answer to status or finish
TERM_S = 3.0  # after SIGTERM, how long a party may take to end before it is killed


class PartyFailed(RunAborted):
    """A party's process did not start, did not answer, or died: the run aborted."""


def _last_line(log: Path) -> str:
    try:
        lines = log.read_bytes()[-4000:].decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else ""


class Child:
    """One party's process, driven over its stdin, its answers read on a thread."""

    def __init__(self, name: str, argv: list[str], log: Path) -> None:
        self.name, self.log = name, log
        self._err = log.open("wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, env=env
        )
        self._answers: dict[str, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._ended = threading.Event()  # its output ended: it exited
        self.finished = False  # it wrote its export
        stdout = self.proc.stdout
        assert stdout is not None
        threading.Thread(target=self._read, args=(stdout,), daemon=True).start()

    def _queue(self, reply: str) -> queue.Queue[dict[str, Any]]:
        with self._lock:
            return self._answers.setdefault(reply, queue.Queue())

    def _read(self, stdout: IO[bytes]) -> None:
        for line in stdout:
            try:
                answer = json.loads(line)
            except ValueError:
                continue  # not an answer: a library that printed
            if isinstance(answer, dict) and "reply" in answer:
                self._queue(answer["reply"]).put(answer)
        self._ended.set()

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(command.encode() + b"\n")
            self.proc.stdin.flush()
        except OSError:
            raise self.failed() from None

    def poll(self, reply: str) -> dict[str, Any] | None:
        """Its answer ``reply`` if it came, else None; it died: :class:`PartyFailed`."""
        try:
            return self._queue(reply).get_nowait()
        except queue.Empty:
            if self._ended.is_set():
                raise self.failed() from None
            return None

    def answer(self, reply: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (got := self.poll(reply)) is None:
            if time.monotonic() > deadline:
                line = _last_line(self.log)
                raise PartyFailed(
                    f"the {self.name} did not answer {reply!r} in {timeout:g} s"
                    + (f" ({line})" if line else "")
                )
            self._ended.wait(0.01)
        return got

    def ask(self, command: str, timeout: float = ANSWER_S) -> dict[str, Any]:
        self.send(command)
        return self.answer(command.split()[0], timeout)

    def failed(self) -> PartyFailed:
        try:
            code = self.proc.wait(5)
        except subprocess.TimeoutExpired:
            code = None
        return PartyFailed(
            f"the {self.name} exited with {code}: {_last_line(self.log) or 'no output'}"
        )

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise self.failed()

    def end(self, grace: float) -> None:
        """Wait ``grace`` seconds for it to exit (it finished: its interpreter shuts
        down), then SIGTERM it and wait a little (a party ends cleanly on it, its store
        and temporary files closed and removed), then kill it."""
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(TERM_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        finally:
            self._err.close()
