"""One pipeline run, as ``dthq simulate`` and the pipeline bench suite make it: start
a broker (or use the one given, or none in memory), provision the parties, run the
handshakes (a device is established on its gateway's CONFIRM; the scheduler calls each
device's ``poll`` for a handshake to run again), send readings at the offered rate for
the duration, wait for the last ones, and sum it up.

All parties run in this process, each with its own broker connection(s) and threads;
devices share connections (``DEVICES_PER_CONNECTION``), each with its own topics and
session. The scheduler sends each device's readings at fixed times; when the machine
cannot keep up it sends late rather than skipping, and ``sent_per_s`` shows it.
"""

from __future__ import annotations

import heapq
import os
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path

from dthq.errors import UnsupportedError
from dthq.harness.results import PipelineRun
from dthq.pipeline.clock import SYSTEM_CLOCK, Clock
from dthq.pipeline.cloud import Cloud, FHIRSink
from dthq.pipeline.device import Device
from dthq.pipeline.gateway import Gateway, policy_named
from dthq.pipeline.metrics import Metrics
from dthq.pipeline.provision import Registry
from dthq.transport.brokers import EmbeddedBroker, MosquittoBroker
from dthq.transport.bus import BUSES, Bus, MemoryBus, check_qos
from dthq.transport.mqtt import MQTTBus, parse_broker_url
from dthq.twin.store import Store

DEVICES_PER_CONNECTION = 50
GATEWAY = "gw-1"
EMBEDDED = {"amqtt": EmbeddedBroker, "mosquitto": MosquittoBroker}
MAX_MESSAGE_BYTES = 100_000_000  # the paper's §7.1 sizes end at 100 MB


@dataclass(frozen=True)
class SimConfig:
    patients: int = 10
    rate_hz: float = 1.0
    duration_s: float = 10.0
    transport: str = "mqtt"
    broker: str | None = None  # mqtt://HOST:PORT; None: start the ``embedded`` broker
    embedded: str = "amqtt"
    qos: int = 1
    policy: str = "fixed"
    deteriorating: float = 0.2  # share of patients scripted to deteriorate
    onset_s: float | None = None  # when they start (default: a fifth into the run)
    deterioration_speed: float = 10.0  # scripted drift, sped up so short runs see alerts
    fault_rate: float = 0.0
    rekey_records: int = 256
    seed: int = 0
    store: Path | None = None  # default: a temporary database, removed afterwards
    master_secret: bytes | None = None  # the store's; default: random, for this run only
    store_head: Path | None = None  # the store's completeness head; default: beside it
    fhir_dir: Path | None = None
    fhir_url: str | None = None
    drain_s: float = 10.0  # the longest wait for readings still in flight at the end
    cloud: bool = True  # False: the cloud runs elsewhere (`dthq twin consume`)
    message_bytes: int = 0  # each reading's JSON with its PPG window; 0: vitals alone

    def __post_init__(self) -> None:
        if not 1 <= self.patients <= 100_000:
            raise UnsupportedError("--patients must be 1..100000")
        if not 0 < self.rate_hz <= 100:
            raise UnsupportedError("--rate must be above 0 and at most 100 Hz")
        if not 0 < self.duration_s <= 86_400:
            raise UnsupportedError("--duration must be above 0 and at most a day")
        if self.transport not in BUSES:
            raise UnsupportedError(f"unknown transport {self.transport!r}; choose mqtt or memory")
        if self.embedded not in EMBEDDED:
            raise UnsupportedError(f"unknown embedded broker {self.embedded!r}")
        if self.broker is not None:
            parse_broker_url(self.broker)
        check_qos(self.qos)
        if not policy_named(self.policy).twin and not self.cloud:
            raise UnsupportedError("no-twin needs this run's own cloud (a consumer keeps a twin)")
        if not 0 <= self.message_bytes <= MAX_MESSAGE_BYTES:
            raise UnsupportedError(f"message bytes must be within 0..{MAX_MESSAGE_BYTES:,}")
        if not 0 <= self.deteriorating <= 1 or not 0 <= self.fault_rate <= 1:
            raise UnsupportedError("shares (deteriorating, faults) must be within 0..1")

    @property
    def onset(self) -> float:
        return self.duration_s / 5 if self.onset_s is None else self.onset_s


def provision(patients: int) -> Registry:
    """One gateway, ``patients`` devices (dev-00001 -> P00001, ...), fresh PSKs."""
    registry = Registry()
    registry.add_gateway(GATEWAY)
    for i in range(patients):
        registry.add_device(f"dev-{i + 1:05d}", f"P{i + 1:05d}")
    return registry


Progress = Callable[[float, int], None]  # (fraction of the duration done, readings sent)


class Pipeline:
    """The parties of one run, started and connected; ``run`` sends the load."""

    def __init__(
        self,
        config: SimConfig,
        stack: ExitStack,
        clock: Clock,
        registry: Registry | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """``registry``: the parties as already provisioned (an external cloud has them);
        by default they are made here, ``config.patients`` devices and one gateway.
        ``clock``: every party's time, and what ``run`` and ``drain`` pace by.
        ``metrics``: the collector the parties share (the bench's metrics-cost figure
        gives one that does nothing)."""
        self.config = c = config
        self.clock = clock
        self.metrics = Metrics() if metrics is None else metrics
        self.broker_name, self.protocol = "", ""
        if c.cloud:  # before any bus or broker: the stack closes it after their threads stop
            self.store = self._open_store(stack)
        if c.transport == "memory":
            memory = stack.enter_context(closing(MemoryBus()))
            self._bus: Callable[[str, bool], Bus] = lambda _name, _persistent: memory
        else:
            url, protocol = c.broker, None
            if url is None:
                broker = stack.enter_context(EMBEDDED[c.embedded]())
                url, self.broker_name = broker.url, broker.version
                protocol = broker.protocol
                self.broker = broker
            else:
                self.broker_name = url

            def connect(name: str, persistent: bool) -> Bus:
                return stack.enter_context(
                    closing(MQTTBus(url, name, persistent=persistent, protocol=protocol))
                )

            self._bus = connect
        self.registry = registry or provision(c.patients)
        self.tag = os.urandom(3).hex()  # client ids of this run: no stale broker sessions
        self.buses: list[Bus] = []
        if c.cloud:
            self._start_cloud(stack)
        gw_bus = self._bus(f"dthq-{GATEWAY}-{self.tag}", True)
        if isinstance(gw_bus, MQTTBus):
            self.protocol = gw_bus.protocol_name
        self.buses.append(gw_bus)
        self.gateway = Gateway(
            GATEWAY,
            self.registry,
            gw_bus,
            gw_bus,
            self.metrics,
            policy=policy_named(c.policy),
            qos=c.qos,
            clock=clock,
        )
        stack.callback(self.gateway.close)
        self.gateway.connect()
        deteriorating = round(c.patients * c.deteriorating)
        self.devices: list[Device] = []
        bus: Bus | None = None
        for i, device_id in enumerate(self.registry.devices):
            if i % DEVICES_PER_CONNECTION == 0:
                bus = self._bus(f"dthq-devices-{i // DEVICES_PER_CONNECTION}-{self.tag}", False)
                self.buses.append(bus)
            assert bus is not None
            worsens = i < deteriorating
            device = Device(
                device_id,
                GATEWAY,
                self.registry,
                bus,
                self.metrics,
                qos=c.qos,
                rate_hz=c.rate_hz,
                seed=c.seed * 100_003 + i,
                deteriorate_after_s=c.onset if worsens else None,
                deterioration_speed=c.deterioration_speed,
                rekey_records=c.rekey_records,
                fault_rate=c.fault_rate,
                message_bytes=c.message_bytes,
                clock=clock,
            )
            if worsens:
                self.metrics.onsets[device.patient] = clock.now_ms() + int(c.onset * 1000)
            self.devices.append(device)
        for device in self.devices:
            device.handshake()
        for device in self.devices:
            device.wait_established()

    def _open_store(self, stack: ExitStack) -> Store:
        c = self.config
        if c.store is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="dthq-store-"))
            store_path = Path(tmp) / "twin.db"
        else:
            store_path = c.store
        secret = c.master_secret or os.urandom(32)
        return stack.enter_context(closing(Store(store_path, secret, head=c.store_head)))

    def _start_cloud(self, stack: ExitStack) -> None:
        c = self.config
        cloud_bus = self._bus(f"dthq-cloud-{self.tag}", True)
        self.buses.append(cloud_bus)
        self.cloud = Cloud(
            self.registry,
            cloud_bus,
            self.metrics,
            self.store,
            sink=FHIRSink(c.fhir_dir, c.fhir_url),
            twin=policy_named(c.policy).twin,
            clock=self.clock,
        )
        stack.callback(self.cloud.close)  # its worker and sender stop before the store closes

    def run(
        self, progress: Progress | None = None, stop: threading.Event | None = None
    ) -> PipelineRun:
        """Send the load for the configured duration (or until ``stop`` is set)."""
        c, m = self.config, self.metrics
        period = 1 / c.rate_hz
        now = self.clock.monotonic_s
        start = now()
        end = start + c.duration_s
        n = len(self.devices)
        due = [(start + i * period / n, i) for i in range(n)]  # staggered phases
        heapq.heapify(due)
        last_report = 0.0
        while due:
            at, i = due[0]
            if at >= end or now() >= end or (stop is not None and stop.is_set()):
                break  # behind at the end: what was not sent shows in sent_per_s
            wait = at - now()
            if wait > 0:
                time.sleep(min(wait, 0.05))
                continue
            heapq.heapreplace(due, (at + period, i))
            device = self.devices[i]
            device.poll()  # a handshake that timed out, or that NO_SESSION asked for
            device.tick()
            if progress and at - last_report >= 0.25:
                last_report = at
                progress(min(1.0, (at - start) / c.duration_s), m.counts["sent"])
        self.drain()
        if progress:
            progress(1.0, m.counts["sent"])
        return self.summary()

    def summary(self) -> PipelineRun:
        c, m = self.config, self.metrics
        buses = {id(b): b for b in self.buses}.values()  # memory: one bus for all
        backlog = self.store.backlog() if c.cloud else None
        oldest = None if backlog is None else backlog.oldest_ms
        return m.summary(
            fhir_unsent=0 if backlog is None else backlog.unsent,
            fhir_oldest_unsent_s=None if oldest is None else (self.clock.now_ms() - oldest) / 1000,
            transport=c.transport,
            broker=self.broker_name,
            protocol=self.protocol,
            patients=c.patients,
            rate_hz=c.rate_hz,
            duration_s=c.duration_s,
            qos=c.qos,
            policy=c.policy,
            offered_per_s=c.patients * c.rate_hz,
            reconnects=sum(b.stats.disconnects for b in buses),
            down_ms=max((b.stats.down_ms for b in buses), default=0.0),
        )

    def drain(self) -> bool:
        """Wait until every sent reading is delivered or refused and the FHIR outbox holds
        nothing the sender still tries (True), or give up after the batch window plus
        ``drain_s`` (False)."""
        c, m = self.config, self.metrics
        deadline = self.clock.monotonic_s() + c.drain_s + policy_named(c.policy).window_ms / 1000
        while self.clock.monotonic_s() < deadline:
            settled, sent = m.settled()
            if settled >= sent and (not c.cloud or self.store.backlog().pending == 0):
                return True
            time.sleep(0.02)
        return False


def simulate(config: SimConfig, progress: Progress | None = None) -> PipelineRun:
    """One run on the machine's clocks, as ``dthq simulate`` and the bench suite make it."""
    with ExitStack() as stack:
        return Pipeline(config, stack, SYSTEM_CLOCK).run(progress)
