"""One scheme through the pipe, measured as the schemes bench suite reports it (see
:class:`~dthq.harness.results.SchemeRun` for what each figure is).

The broker's share is read from /proc: its socket bytes (``rchar`` + ``wchar``: mosquitto
with persistence off and ``log_dest none`` reads and writes nothing else once started;
TCP/IP headers are not counted) and its CPU (``utime`` + ``stime``). The parties' CPU
and the end-to-end times come from the run's own :class:`PipelineRun`.

Recovery keeps the load going (each device at the configured rate) after a disruption
and times it until every device has a reading taken after the disruption stored by the
cloud: the broker restarted (the storm: every connection at once, and every TLS
handshake again under TLS), then the gateway restarted (DTHQ's sessions lost: each
device is told NO_SESSION and handshakes again).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import ExitStack

from dthq.errors import UnsupportedError
from dthq.harness.results import SchemeRun
from dthq.pipeline.clock import SYSTEM_CLOCK
from dthq.pipeline.cpu import cpu_s, io_bytes
from dthq.pipeline.run import Pipeline, SimConfig
from dthq.transport.brokers import MosquittoBroker
from dthq.twin.reading import Reading
from dthq.twin.twin import Alert

RECOVERY_TIMEOUT_S = 60.0


class BrokerShare:
    """The broker's socket bytes and CPU over a ``with`` block: around an in-process run
    here, and around any run whose broker is a process of known pid (a multi-process
    runner's included)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.bytes, self.cpu_s = 0, 0.0

    def __enter__(self) -> BrokerShare:
        self._io, self._cpu = io_bytes(self.pid), cpu_s(self.pid)
        return self

    def __exit__(self, *exc: object) -> None:
        self.bytes = io_bytes(self.pid) - self._io
        self.cpu_s = cpu_s(self.pid) - self._cpu


class _Newest:
    """The newest reading the cloud stored, per patient (a cloud listener)."""

    def __init__(self) -> None:
        self.ts: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, readings: list[Reading], alerts: list[Alert]) -> None:
        with self._lock:
            for r in readings:
                if r.ts > self.ts.get(r.pid, -1):
                    self.ts[r.pid] = r.ts

    def all_since(self, patients: list[str], ms: int) -> bool:
        with self._lock:
            return all(self.ts.get(p, -1) >= ms for p in patients)


def recovery_s(
    p: Pipeline, disrupt: Callable[[], None], newest: _Newest, timeout_s: float
) -> float | None:
    """Seconds from ``disrupt`` until every device has a reading taken since stored,
    the load kept up meanwhile; None if that takes longer than ``timeout_s``."""
    clock, period = p.clock, 1 / p.config.rate_hz
    patients = [d.patient for d in p.devices]
    since_ms, start = clock.now_ms(), time.perf_counter()
    disrupt()
    n = len(p.devices)
    due = [time.perf_counter() + i * period / n for i in range(n)]
    while time.perf_counter() - start < timeout_s:
        if newest.all_since(patients, since_ms):
            return time.perf_counter() - start
        now = time.perf_counter()
        for i, device in enumerate(p.devices):
            if due[i] <= now:
                due[i] += period
                device.poll()  # NO_SESSION's new handshake, readings overdue sent again
                if device.session is not None:
                    device.tick()
        time.sleep(min(0.005, max(0.0, min(due) - time.perf_counter())))
    return None


def run_scheme(
    config: SimConfig, *, recover: bool = True, timeout_s: float = RECOVERY_TIMEOUT_S
) -> SchemeRun:
    """The run at ``config``'s load through this run's own mosquitto, its broker's
    share of bytes and CPU, then (``recover``) the storm and the cold restart."""
    if config.embedded != "mosquitto" or config.broker is not None or config.transport != "mqtt":
        raise UnsupportedError("a scheme run measures the embedded mosquitto's process")
    with ExitStack() as stack:
        p = Pipeline(config, stack, SYSTEM_CLOCK)
        broker = p.broker
        assert isinstance(broker, MosquittoBroker) and broker.pid is not None
        with BrokerShare(broker.pid) as share:
            run = p.run()
        delivered = run.counts.get("delivered", 0)
        storm = cold = None
        if recover:
            newest = _Newest()
            p.cloud.listeners.append(newest)
            storm = recovery_s(p, broker.restart, newest, timeout_s)
            cold = recovery_s(p, p.restart_gateway, newest, timeout_s)
        return SchemeRun(
            scheme=config.scheme,
            run=run,
            wire_bytes_per_reading=share.bytes / delivered if delivered else None,
            broker_cpu_s=share.cpu_s,
            storm_recovery_s=storm,
            cold_recovery_s=cold,
            connections=len({id(b) for b in p.buses}),
        )
