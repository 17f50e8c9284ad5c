"""What the pipeline's measurement costs a reading: one round of readings through the
in-memory pipeline (devices, gateway, cloud with its twin and store), with the real
:class:`~dthq.pipeline.metrics.Metrics` and with one that does nothing. The driver
(bench/icount_driver.py) counts both under callgrind; the target "metrics cost per
reading" is the first over the second, less one. Callgrind counts the process's own
instructions, not the kernel's: the thread_time() system calls of the parties' cpu()
blocks (four a reading) are not in the figure."""

from __future__ import annotations

import contextlib
import gc
from contextlib import ExitStack

from dthq.pipeline.clock import SYSTEM_CLOCK
from dthq.pipeline.metrics import Key, Metrics, Trace
from dthq.pipeline.run import Pipeline, SimConfig
from dthq.transport.bus import MemoryBus

# One reading from each device a round: the fixed policy's max_batch, so a round is one
# full batch, forwarded as it fills (no wait for the batch window). The driver's figure
# names (pipeline/round-64) say it.
ROUND = 64
# Hops a round crosses on the memory bus, each drained in turn: device -> gateway,
# gateway -> cloud, cloud -> gateway (the batch's receipt).
HOPS = 3
DRAIN_S = 600.0  # a hop's longest wait: callgrind runs a round ~50x slower


class NullMetrics(Metrics):
    """A collector that collects nothing: every call a reading's path makes returns at
    once (the trace it hands out is one scratch object, written and never read)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._scratch = Trace()
        self._nothing = contextlib.nullcontext()

    def trace(self, key: Key) -> Trace:
        return self._scratch

    def deliver(self, key: Key) -> None:
        pass

    def refuse(self, pid: str | None, ts: int | None) -> None:
        pass

    def count(self, name: str, n: int = 1) -> None:
        pass

    def reject(self, where: str, exc: BaseException, n: int = 1) -> None:
        pass

    def fail(self, outcome: str, n: int = 1) -> None:
        pass

    def sent_bytes(self, hop: str, n: int) -> None:
        pass

    def wire_bytes(self, what: str, n: int) -> None:
        pass

    def alert(self, pid: str, ts: int, reason: str) -> None:
        pass

    def cpu(self, party: str) -> contextlib.AbstractContextManager[None]:
        return self._nothing


class Round:
    """The pipeline, started; each call sends one reading from each of its ROUND devices
    and returns once the cloud has stored them and the gateway has their receipt."""

    def __init__(self, metrics: Metrics) -> None:
        self._stack = ExitStack()
        config = SimConfig(patients=ROUND, transport="memory", policy="fixed", duration_s=60)
        self.pipeline = Pipeline(config, self._stack, SYSTEM_CLOCK, metrics=metrics)
        bus = self.pipeline.buses[0]
        assert isinstance(bus, MemoryBus)
        self._bus = bus
        # The gateway's flush thread ticks every few ms of wall time: under callgrind's
        # slowdown its share of a round would depend on the machine. It is stopped, and
        # ticked once a round instead (the devices' receipts go out then).
        self._gateway = gateway = self.pipeline.gateway
        gateway._stop.set()
        gateway._flusher.join()

    def __call__(self) -> None:
        # The cyclic collector off, as the timing harness has it (pytest-benchmark's
        # --benchmark-disable-gc, timeit): a full collection comes one round in six, in
        # whichever of the N or 2N calls the allocations put it, and moved a count by 8 %.
        enabled = gc.isenabled()
        gc.disable()
        try:
            for device in self.pipeline.devices:
                device.tick()
            for _ in range(HOPS):
                self._bus.drain(DRAIN_S)
            self._gateway._tick()
            self._bus.drain(DRAIN_S)  # the devices take their receipts
        finally:
            if enabled:
                gc.enable()

    def close(self) -> None:
        self._stack.close()
