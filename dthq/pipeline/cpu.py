"""CPU per party when each runs as its own process: cumulative user + system seconds of
each role's processes (psutil), read when asked or sampled on a thread (the fleet's
mean and peak cores)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import psutil

SAMPLE_S = 0.5
_TICKS = os.sysconf("SC_CLK_TCK")


def io_bytes(pid: int) -> int:
    """What the process read and wrote through system calls, sockets included."""
    fields = dict(
        line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines() if line
    )
    return int(fields["rchar"]) + int(fields["wchar"])


def cpu_s(pid: int) -> float:
    """The process's user + system CPU so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    after = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
    return (int(after[11]) + int(after[12])) / _TICKS  # fields 14 and 15, utime and stime


class CPUSampler:
    """Cumulative CPU seconds of each role's processes, sampled on a thread."""

    def __init__(self) -> None:
        self.roles: dict[str, list[psutil.Process]] = {}
        self.series: list[tuple[float, dict[str, float]]] = []
        self._last: dict[int, float] = {}  # pid -> its latest CPU seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def add(self, role: str, pid: int | None) -> None:
        if pid is not None:
            self.roles.setdefault(role, []).append(psutil.Process(pid))

    def totals(self) -> dict[str, float]:
        """Each role's CPU seconds (user + system) so far."""
        out = {}
        for role, procs in self.roles.items():
            total = 0.0
            for p in procs:
                try:
                    t = p.cpu_times()
                    self._last[p.pid] = t.user + t.system
                except psutil.Error:
                    pass  # exited: its last sample stands
                total += self._last.get(p.pid, 0.0)
            out[role] = total
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            self.series.append((time.monotonic(), self.totals()))
            self._stop.wait(SAMPLE_S)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def cores(self) -> tuple[dict[str, float], dict[str, float]]:
        """(mean, peak over any 1 s) cores used per role."""
        if len(self.series) < 2:
            return {}, {}
        (t0, first), (t1, last) = self.series[0], self.series[-1]
        mean = {r: (last.get(r, 0) - first.get(r, 0)) / (t1 - t0) for r in last}
        peak: dict[str, float] = dict.fromkeys(last, 0.0)
        step = max(1, round(1 / SAMPLE_S))
        for (ta, a), (tb, b) in zip(self.series, self.series[step:], strict=False):
            for r in b:
                peak[r] = max(peak[r], (b[r] - a.get(r, 0)) / (tb - ta))
        return mean, peak
