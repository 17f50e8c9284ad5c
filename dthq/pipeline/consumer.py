"""``dthq twin consume``: the cloud twin alone, as its own process, until SIGTERM or
SIGINT: a persistent QoS 1 consumer that resumes its sessions and twins from the store
after a restart (exactly once)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path

from dthq.pipeline.clock import Clock
from dthq.pipeline.cloud import Cloud, FHIRSink
from dthq.pipeline.metrics import Metrics
from dthq.pipeline.provision import Registry
from dthq.transport.mqtt import MQTTBus
from dthq.twin.store import Store


def consume_until_signalled(
    broker: str,
    registry_file: Path,
    store: Store,
    fhir_dir: Path | None,
    fhir_url: str | None,
    client_id: str,
    ready: Callable[[], None],
    clock: Clock,
) -> dict[str, dict[str, int]]:
    """Subscribe, call ``ready``, consume until a signal; the counts, why readings were
    rejected, and the failures by outcome."""
    registry = Registry.load(registry_file)
    metrics = Metrics()
    bus = MQTTBus(broker, client_id, persistent=True, connect=False)
    cloud = Cloud(registry, bus, metrics, store, sink=FHIRSink(fhir_dir, fhir_url), clock=clock)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    bus.connect()
    ready()
    while not done.wait(0.2):
        pass
    cloud.close()  # its worker (giving up a retrying commit) and the outbox's sender
    bus.close()  # then the bus, whose thread may have waited for the worker's queue
    return {
        "counts": dict(metrics.counts),
        "rejected": dict(metrics.rejected),
        "failures": dict(metrics.failures),
    }
