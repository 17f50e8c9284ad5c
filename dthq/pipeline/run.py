"""One pipeline run, as ``dthq simulate`` and the pipeline bench suite make it: start
a broker (or use the one given, or none in memory), provision the parties, run the
handshakes (a device is established on its gateway's CONFIRM; the scheduler calls each
device's ``poll`` for a handshake to run again), send readings at the offered rate for
the duration, wait for the last ones, and sum it up.

All parties run in this process (``processes=True``: each its own OS process, through
:mod:`dthq.pipeline.processes`), each with its own broker connection(s) and threads;
devices share connections (``DEVICES_PER_CONNECTION``), each with its own topics and
session; under the TLS schemes each device has its own connection, whose client
certificate is its identity at the broker. The scheduler sends each device's readings
at fixed times; when the machine cannot keep up it sends late rather than skipping, and
``sent_per_s`` shows it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path

from dthq.errors import UnsupportedError
from dthq.harness.results import PipelineRun
from dthq.pipeline import tls_setup
from dthq.pipeline.clock import SYSTEM_CLOCK, Clock
from dthq.pipeline.gateway import Gateway, policy_named
from dthq.pipeline.metrics import Metrics
from dthq.pipeline.parties import (
    GATEWAY,
    BusFor,
    Progress,
    make_cloud,
    make_devices,
    make_gateway,
    open_store,
    send_load,
)
from dthq.pipeline.provision import CLOUD_ID, Registry
from dthq.transport.brokers import EmbeddedBroker, MosquittoBroker
from dthq.transport.bus import BUSES, Bus, MemoryBus, check_qos
from dthq.transport.mqtt import MQTTBus, parse_broker_url, redacted

PINS = ("none", "split")  # how a processes=True run places its parties (see processes.py)
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
    fhir: bool = True  # False: the cloud builds (and validates) no FHIR Bundle at all
    # dthq: DTHQ over plain MQTT; tls: MQTT over TLS 1.3 alone; dthq+tls: DTHQ inside TLS
    scheme: str = "dthq"
    # Devices sharing one broker connection; None: DEVICES_PER_CONNECTION, and 1 under
    # TLS (a certificate is one identity). The schemes suite gives 1 to every scheme.
    devices_per_connection: int | None = None
    processes: bool = False  # each party its own OS process (dthq.pipeline.processes)
    pin: str = "none"  # with processes: "split", the load generator on a core of its own
    device_processes: int = 1  # with processes: the load generator's processes

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
        if not self.fhir and (self.fhir_dir is not None or self.fhir_url is not None):
            raise UnsupportedError("a FHIR destination needs the cloud to build FHIR Bundles")
        if self.scheme not in tls_setup.SCHEMES:
            raise UnsupportedError(
                f"unknown scheme {self.scheme!r}; choose {', '.join(tls_setup.SCHEMES)}"
            )
        shared = self.devices_per_connection
        fits = shared is None or (1 <= shared <= 1000 and (shared == 1 or self.scheme == "dthq"))
        if not fits:
            raise UnsupportedError(
                "devices per connection: 1..1000, and 1 under TLS (a certificate each)"
            )
        plain_mqtt = self.transport != "mqtt" or self.broker is not None
        if self.scheme != "dthq" and (plain_mqtt or self.embedded != "mosquitto" or not self.cloud):
            # Only this run's own mosquitto has the TLS listener, the certificates and
            # the ACL; "tls" over anything else would take anyone's readings.
            raise UnsupportedError(
                f"scheme {self.scheme!r} needs the embedded mosquitto's TLS listener "
                "(transport mqtt, no --broker, embedded mosquitto, this run's own cloud)"
            )
        if self.pin not in PINS:
            raise UnsupportedError(f"unknown pinning {self.pin!r}; choose one of {PINS}")
        if not 1 <= self.device_processes <= min(64, self.patients):
            raise UnsupportedError("device processes must be 1..64 and at most one a device")
        if self.processes:
            if sys.platform != "linux":  # the parties' stamps need one machine-wide clock
                raise UnsupportedError("--processes needs Linux (CLOCK_MONOTONIC stamps)")
            if self.transport != "mqtt" or not self.cloud:
                raise UnsupportedError(
                    "--processes needs --transport mqtt and this run's own cloud"
                )
        elif self.pin != "none":
            raise UnsupportedError("--pin places the parties' processes: it needs --processes")

    def run_fields(self) -> dict[str, object]:
        """What a PipelineRun records of the configuration that made it."""
        return {
            "transport": self.transport,
            "patients": self.patients,
            "rate_hz": self.rate_hz,
            "duration_s": self.duration_s,
            "qos": self.qos,
            "policy": self.policy,
            "offered_per_s": self.patients * self.rate_hz,
            "processes": self.processes,
            "pin": self.pin,
            "scheme": self.scheme,
        }

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
        self.registry = registry or provision(c.patients)
        self.tls = None
        if c.cloud:  # before any bus or broker: the stack closes it after their threads stop
            self.store = open_store(c, stack)
        if c.transport == "memory":
            memory = stack.enter_context(closing(MemoryBus()))
            self._bus: BusFor = lambda _name, _persistent, _who: memory
        else:
            url, protocol = c.broker, None
            if url is None:
                if c.scheme != "dthq":  # the material outlives the broker (stack order)
                    self.tls = stack.enter_context(tls_setup.material(self.registry))
                    broker = stack.enter_context(
                        MosquittoBroker(tls=self.tls, acl=tls_setup.acl(self.registry))
                    )
                else:
                    broker = stack.enter_context(EMBEDDED[c.embedded]())
                url, self.broker_name = broker.url, broker.version
                protocol = broker.protocol
                self.broker = broker
            else:
                self.broker_name = redacted(url)  # a results file names no password

            def connect(name: str, persistent: bool, identity: str) -> Bus:
                tls = None if self.tls is None else self.tls.client_context(identity)
                return stack.enter_context(
                    closing(MQTTBus(url, name, persistent=persistent, protocol=protocol, tls=tls))
                )

            self._bus = connect
        self.tag = os.urandom(3).hex()  # client ids of this run: no stale broker sessions
        self.buses: list[Bus] = []
        if c.cloud:
            cloud_bus = self._bus(f"dthq-cloud-{self.tag}", True, CLOUD_ID)
            self.buses.append(cloud_bus)
            self.cloud = make_cloud(c, self.registry, cloud_bus, self.metrics, self.store, clock)
            stack.callback(self.cloud.close)  # its worker and sender stop before the store
        self._stack = stack
        self.gateway = self._start_gateway()
        self.devices, buses = make_devices(
            c, self.registry, self._bus, self.metrics, clock, self.tag
        )
        self.buses.extend(buses)
        for device in self.devices:
            device.handshake()
        for device in self.devices:
            device.wait_established()

    def _start_gateway(self) -> Gateway:
        gw_bus = self._bus(f"dthq-{GATEWAY}-{self.tag}", True, GATEWAY)
        if isinstance(gw_bus, MQTTBus):
            self.protocol = gw_bus.protocol_name
        self.buses.append(gw_bus)
        gateway = make_gateway(self.config, self.registry, gw_bus, self.metrics, self.clock)
        self._stack.callback(gateway.close)
        gateway.connect()
        self._gateway_bus = gw_bus
        return gateway

    def restart_gateway(self) -> None:
        """Stop the gateway and start a new one under the same client id (the broker kept
        its persistent session and what came for it meanwhile): every device session it
        held is gone, so each device is told NO_SESSION and handshakes again."""
        if self.config.transport == "memory":
            raise UnsupportedError("a gateway restart needs a broker (the memory bus keeps it)")
        self.gateway.close()
        self._gateway_bus.close()  # type: ignore[attr-defined]
        self.buses.remove(self._gateway_bus)
        self.gateway = self._start_gateway()

    def run(
        self, progress: Progress | None = None, stop: threading.Event | None = None
    ) -> PipelineRun:
        """Send the load for the configured duration (or until ``stop`` is set)."""
        m = self.metrics
        send_load(
            self.devices,
            self.config,
            self.clock,
            self.clock.monotonic_s(),
            sent=lambda: m.counts["sent"],
            progress=progress,
            stop=stop,
        )
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
            broker=self.broker_name,
            protocol=self.protocol,
            reconnects=sum(b.stats.disconnects for b in buses),
            down_ms=max((b.stats.down_ms for b in buses), default=0.0),
            **c.run_fields(),
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
    if config.processes:
        from dthq.pipeline.processes import simulate_in_processes

        return simulate_in_processes(config, progress)
    with ExitStack() as stack:
        return Pipeline(config, stack, SYSTEM_CLOCK).run(progress)
