"""How each party of a pipeline run is made from its :class:`~dthq.pipeline.run.SimConfig`:
the one definition both the in-process :class:`~dthq.pipeline.run.Pipeline` and the
per-process parties (:mod:`dthq.pipeline.party`) build them with, and the scheduler
that sends the devices' readings, so a setting added to the config reaches every party
the same way in both.
"""

from __future__ import annotations

import heapq
import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack, closing
from pathlib import Path
from typing import TYPE_CHECKING

from dthq.pipeline.clock import Clock
from dthq.pipeline.cloud import Cloud, FHIRSink
from dthq.pipeline.device import Device
from dthq.pipeline.gateway import Gateway, policy_named
from dthq.pipeline.metrics import Metrics
from dthq.pipeline.provision import Registry
from dthq.transport.bus import Bus
from dthq.twin.store import Store

if TYPE_CHECKING:  # run.py imports this module
    from dthq.pipeline.run import SimConfig

DEVICES_PER_CONNECTION = 50
GATEWAY = "gw-1"

Progress = Callable[[float, int], None]  # (fraction of the duration done, readings sent)
BusFor = Callable[[str, bool, str], Bus]  # (client id, persistent, identity) -> a connected bus


def open_store(config: SimConfig, stack: ExitStack) -> Store:
    """The cloud's store: ``config.store`` or a temporary one the stack removes."""
    if config.store is None:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="dthq-store-"))
        store_path = Path(tmp) / "twin.db"
    else:
        store_path = config.store
    secret = config.master_secret or os.urandom(32)
    return stack.enter_context(closing(Store(store_path, secret, head=config.store_head)))


def make_cloud(
    config: SimConfig, registry: Registry, bus: Bus, metrics: Metrics, store: Store, clock: Clock
) -> Cloud:
    return Cloud(
        registry,
        bus,
        metrics,
        store,
        sink=FHIRSink(config.fhir_dir, config.fhir_url),
        twin=policy_named(config.policy).twin,
        fhir_bundles=config.fhir,
        clock=clock,
        plain=config.scheme == "tls",
    )


def make_gateway(
    config: SimConfig, registry: Registry, bus: Bus, metrics: Metrics, clock: Clock
) -> Gateway:
    return Gateway(
        GATEWAY,
        registry,
        bus,
        bus,
        metrics,
        policy=policy_named(config.policy),
        qos=config.qos,
        clock=clock,
        plain=config.scheme == "tls",
    )


def make_devices(
    config: SimConfig,
    registry: Registry,
    bus_for: BusFor,
    metrics: Metrics,
    clock: Clock,
    tag: str,
    indices: range | None = None,
) -> tuple[list[Device], list[Bus]]:
    """The devices at ``indices`` of the registry (default: all), their onsets set in
    ``metrics``, and the buses they share (``config.devices_per_connection``, by default
    ``DEVICES_PER_CONNECTION`` a connection and one each under TLS, where a connection's
    certificate is its device's identity; the client ids come from the global index, so
    slices made apart never collide)."""
    c = config
    shared = c.devices_per_connection or (1 if c.scheme != "dthq" else DEVICES_PER_CONNECTION)
    ids = list(registry.devices)
    indices = range(len(ids)) if indices is None else indices
    deteriorating = round(c.patients * c.deteriorating)
    devices: list[Device] = []
    buses: dict[int, Bus] = {}
    for i in indices:
        group = i // shared
        if group not in buses:
            buses[group] = bus_for(f"dthq-devices-{group}-{tag}", False, ids[i])
        worsens = i < deteriorating
        device = Device(
            ids[i],
            GATEWAY,
            registry,
            buses[group],
            metrics,
            qos=c.qos,
            rate_hz=c.rate_hz,
            seed=c.seed * 100_003 + i,
            deteriorate_after_s=c.onset if worsens else None,
            deterioration_speed=c.deterioration_speed,
            rekey_records=c.rekey_records,
            fault_rate=c.fault_rate,
            message_bytes=c.message_bytes,
            clock=clock,
            plain=c.scheme == "tls",
        )
        if worsens:
            metrics.onsets[device.patient] = clock.now_ms() + int(c.onset * 1000)
        devices.append(device)
    return devices, list(buses.values())


def send_load(
    devices: Sequence[Device],
    config: SimConfig,
    clock: Clock,
    start: float,
    *,
    first: int = 0,
    sent: Callable[[], int] = lambda: 0,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Send each device's readings at fixed times from ``start`` (the clock's
    ``monotonic_s``) for the configured duration. Phases are staggered over all
    ``config.patients`` devices, ``first`` being the global index of ``devices[0]``, so
    that slices sent by separate processes make the same schedule as one. Behind, it
    sends late rather than skipping; behind at the end, what was not sent is not."""
    period = 1 / config.rate_hz
    now = clock.monotonic_s
    end = start + config.duration_s
    n = config.patients
    due = [(start + (first + i) * period / n, i) for i in range(len(devices))]
    heapq.heapify(due)
    last_report = 0.0
    while due:
        at, i = due[0]
        if at >= end or now() >= end or (stop is not None and stop.is_set()):
            break
        wait = at - now()
        if wait > 0:
            time.sleep(min(wait, 0.05))
            continue
        heapq.heapreplace(due, (at + period, i))
        device = devices[i]
        device.poll()  # a handshake that timed out, or that NO_SESSION asked for
        device.tick()
        if progress and at - last_report >= 0.25:
            last_report = at
            progress(min(1.0, (at - start) / config.duration_s), sent())
