"""The cloud twin of a fleet run, inside the Locust master.

It is the pipeline's own :class:`~dthq.pipeline.cloud.Cloud` (gateway sessions, twins,
FHIR, the encrypted store) on its own MQTT connection. Each reading it takes is a
Locust ``end-to-end`` event, timed from the reading's acquisition timestamp (inside
the sealed record, so authenticated) to the twin's commit: the master's statistics hold
it beside the workers' handshakes and publishes. At the end it writes what it counted
(per patient, duplicates, refusals, the exact samples) for ``dthq fleet`` to check
against Locust's.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import Counter
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment

from dthq.errors import StateError
from dthq.fleet.config import member_id
from dthq.fleet.devices import REQUEST
from dthq.pipeline.clock import SYSTEM_CLOCK
from dthq.pipeline.cloud import Cloud
from dthq.pipeline.metrics import Metrics
from dthq.pipeline.provision import Registry
from dthq.transport.mqtt import MQTTBus
from dthq.twin.reading import Reading
from dthq.twin.store import Store
from dthq.twin.twin import Alert

GATEWAY_WAIT_S = 60.0
SAMPLES_WAIT_S = 10.0


class FleetTwin:
    def __init__(self, environment: Environment) -> None:
        o = environment.parsed_options
        self.environment = environment
        self.out = Path(o.dthq_out)
        self.delay_s = o.dthq_twin_delay_ms / 1000
        self.received: Counter[str] = Counter()
        self.e2e_ms: list[float] = []
        self.worker_samples: dict[str, list[float]] = {}
        self.reported = 0  # workers whose samples arrived
        self.workers = int(o.expect_workers or 1)
        self.storm_at: float | None = None
        self._stack = ExitStack()
        registry = Registry.load(Path(o.dthq_registry))
        directory = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="dthq-fleet-"))
        store = self._stack.enter_context(
            closing(Store(Path(directory) / "twin.db", os.urandom(32)))
        )
        bus = self._stack.enter_context(
            closing(
                MQTTBus(
                    o.dthq_broker,
                    f"dthq-fleet-twin-{os.urandom(3).hex()}",
                    persistent=True,
                    protocol=o.dthq_protocol or None,
                )
            )
        )
        self.metrics = Metrics()
        self.cloud = Cloud(registry, bus, self.metrics, store, clock=SYSTEM_CLOCK)
        self.cloud.listeners.append(self._delivered)
        self._stack.callback(self.cloud.close)  # its worker stops before the store closes
        self.members = {member_id(g) for g in range(o.dthq_gateways)}

    def wait_for_gateways(self) -> None:
        deadline = time.monotonic() + GATEWAY_WAIT_S
        while not self.members <= self.cloud.gateways:
            if time.monotonic() > deadline:
                missing = ", ".join(sorted(self.members - self.cloud.gateways))
                raise StateError(f"no session with gateway(s) {missing} in {GATEWAY_WAIT_S} s")
            gevent.sleep(0.05)

    def _delivered(self, readings: list[Reading], _alerts: list[Alert]) -> None:
        now = time.time_ns() / 1e6
        fire = self.environment.events.request.fire
        for r in readings:
            self.received[r.pid] += 1
            ms = now - r.ts
            self.e2e_ms.append(ms)
            fire(
                request_type=REQUEST,
                name="end-to-end",
                response_time=ms,
                response_length=0,
                exception=None,
                context={},
            )
        if self.delay_s:
            time.sleep(self.delay_s)  # the slow consumer: this batch's handler holds on

    def samples(self, msg: Any, **_: Any) -> None:  # a Locust message: environment=, msg=
        self.reported += 1
        for name, values in msg.data["samples"].items():
            self.worker_samples.setdefault(name, []).extend(values)

    def write(self) -> None:
        # The workers send their samples as they stop; the master may quit first.
        deadline = time.monotonic() + SAMPLES_WAIT_S
        while self.reported < self.workers and time.monotonic() < deadline:
            gevent.sleep(0.05)
        m = self.metrics
        stats = self.environment.stats
        summary = {
            "received": dict(self.received),
            "delivered": sum(self.received.values()),
            "duplicated": m.counts["duplicated"],
            "rejected": dict(m.rejected),
            "rejection_examples": dict(m.examples),
            "e2e_ms": self.e2e_ms,
            "samples": self.worker_samples,
            "workers_reported": self.reported,
            "storm_at": self.storm_at,
            "stages_ms": self._stages(),
            "locust": {
                f"{e.method}/{e.name}": {"requests": e.num_requests, "failures": e.num_failures}
                for e in stats.entries.values()
            },
            "errors": {
                f"{e.method}/{e.name}: {e.error}": e.occurrences for e in stats.errors.values()
            },
        }
        (self.out / "twin.json").write_text(json.dumps(summary))

    def _stages(self) -> dict[str, float]:
        """Median ms per reading of the twin's own stages (the batch's decryption counted
        for each of its readings, as in the pipeline's breakdown)."""
        return self.metrics.medians_ms()

    def close(self) -> None:
        self._stack.close()
