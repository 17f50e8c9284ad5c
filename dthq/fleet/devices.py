"""The Locust user classes: one simulated device each, over its own MQTT connection.

A device runs the pipeline's own :class:`~dthq.pipeline.device.Device` (the real DTHQ
handshake over MQTT, LZ4, sealed records on its topic), then publishes a reading at its
rate, rekeys by the record layer's policy, and reconnects with jittered exponential
backoff. Each step is a Locust request event, so Locust's statistics, CSV and HTML
report count them: ``handshake`` (HELLO out to established), ``publish`` (sealed and
PUBACKed by the broker), ``connect`` (to CONNACK), ``storm recovery`` (from the storm
to established again) and, from the master's twin, ``end-to-end``.

Kinds: :class:`Wearable` (a far-edge patch, the fleet's rate) and :class:`BedsideMonitor`
(4x the rate, rekeying every 64 records); :class:`HelloReplayer` is the attacker of the
handshake storms, replaying captured HELLOs of offline devices.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from typing import Any, ClassVar

import gevent
from locust import User, constant_pacing, events, task
from locust.env import Environment
from locust.runners import WorkerRunner

from dthq.errors import DTHQError, StateError
from dthq.fleet.config import GATEWAY, KINDS, device_id, victim_id
from dthq.pipeline import topics
from dthq.pipeline.clock import SYSTEM_CLOCK
from dthq.pipeline.device import Device
from dthq.pipeline.metrics import Metrics
from dthq.pipeline.provision import Registry
from dthq.protocol.handshake import Initiator
from dthq.transport.mqtt import MQTTBus

ATTEMPT_S = 5.0  # one handshake attempt's wait for the gateway
BACKOFF_S = (0.25, 8.0)  # first and largest backoff between attempts
ACK_TIMEOUT_S = 10.0
REQUEST = "dthq"


class Worker:
    """What the users of one Locust process share: the registry, options, the storm."""

    registry: Registry | None = None
    options: Any = None
    index = 0
    ids = itertools.count()
    storms = 0  # storms announced by the master so far
    samples: ClassVar[dict[str, list[float]]] = {
        "handshake": [],
        "publish": [],
        "storm recovery": [],
    }

    @classmethod
    def setup(cls, environment: Environment) -> None:
        from pathlib import Path

        cls.options = environment.parsed_options
        cls.registry = Registry.load(Path(cls.options.dthq_registry))
        runner = environment.runner
        cls.index = runner.worker_index if isinstance(runner, WorkerRunner) else 0

    @classmethod
    def next_id(cls) -> str:
        return device_id(cls.index, next(cls.ids))


def fire(environment: Environment, name: str, ms: float, error: str | None = None) -> None:
    environment.events.request.fire(
        request_type=REQUEST,
        name=name,
        response_time=ms,
        response_length=0,
        exception=StateError(error) if error else None,
        context={},
    )
    if error is None and name in Worker.samples:
        Worker.samples[name].append(ms)


class FleetDevice(User):
    abstract = True
    rate_scale = 1.0
    rekey_records = 256

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._pace = constant_pacing(1 / (Worker.options.dthq_rate * self.rate_scale))
        self._connections = itertools.count()
        self._storms_seen = 0
        self._until = 0.0
        self.device: PacedDevice | None = None
        self.bus: MQTTBus | None = None

    def wait_time(self) -> float:
        return float(self._pace(self))

    def _connect(self) -> MQTTBus:
        o = Worker.options
        client = f"{self.id}-{next(self._connections)}-{os.urandom(2).hex()}"
        return MQTTBus(o.dthq_broker, client, protocol=o.dthq_protocol or None)

    def _reconnect(self) -> MQTTBus:
        """A new connection, retried after a jittered, doubling backoff while the broker
        refuses or drops it (a storm's thousands of CONNECTs at once)."""
        backoff = BACKOFF_S[0]
        while True:
            start = time.perf_counter()
            try:
                bus = self._connect()
            except DTHQError as exc:
                fire(self.environment, "connect", (time.perf_counter() - start) * 1000, str(exc))
                gevent.sleep(backoff * random.uniform(0.5, 1.5))
                backoff = min(backoff * 2, BACKOFF_S[1])
                continue
            fire(self.environment, "connect", (time.perf_counter() - start) * 1000)
            return bus

    def on_start(self) -> None:
        assert Worker.registry is not None
        self.id = Worker.next_id()
        self.bus = self._reconnect()
        self.device = PacedDevice(
            self.id,
            GATEWAY,
            Worker.registry,
            self.bus,
            Metrics(),
            rate_hz=Worker.options.dthq_rate * self.rate_scale,
            rekey_records=self.rekey_records,
            seed=hash(self.id) & 0xFFFF,
            clock=SYSTEM_CLOCK,  # a Locust user is a composition point: the real clock
        )
        self.establish("handshake")
        # duration x rate readings: the last one goes half a period before the end.
        o = Worker.options
        self._until = time.monotonic() + o.dthq_duration - 0.5 / (o.dthq_rate * self.rate_scale)

    def establish(self, name: str, since: float | None = None) -> None:
        """Handshake until established, backing off (jittered, doubling) between tries;
        each failed try is a failed ``name`` event, the success one event timed from
        its own HELLO (and, given ``since``, a ``storm recovery`` timed from it)."""
        assert self.device is not None
        backoff = BACKOFF_S[0]
        while True:
            start = time.perf_counter()
            self.device.handshake()
            try:
                self.device.wait_established(ATTEMPT_S)
            except StateError as exc:
                fire(self.environment, name, (time.perf_counter() - start) * 1000, str(exc))
                gevent.sleep(backoff * random.uniform(0.5, 1.5))
                backoff = min(backoff * 2, BACKOFF_S[1])
                continue
            done = time.perf_counter()
            fire(self.environment, name, (done - start) * 1000)
            if since is not None:
                fire(self.environment, "storm recovery", (done - since) * 1000)
            return

    @task
    def send(self) -> None:
        if Worker.storms > self._storms_seen:
            self._storms_seen = Worker.storms
            self.storm()
        if time.monotonic() >= self._until:
            return  # this device's readings are all sent; the twin drains
        assert self.device is not None
        start = time.perf_counter()
        try:
            ok = self.device.tick()
        except DTHQError as exc:
            fire(self.environment, "publish", (time.perf_counter() - start) * 1000, str(exc))
            return
        error = None if ok else "no PUBACK"
        fire(self.environment, "publish", (time.perf_counter() - start) * 1000, error)

    def storm(self) -> None:
        assert self.device is not None and self.bus is not None
        since = time.perf_counter()
        if Worker.options.dthq_storm == "handshake":
            # The connection goes, as when the gateway restarts; closing it runs on its own
            # greenlet, since paho's loop_stop may wait on a network thread a storm holds up.
            gevent.spawn(self.bus.close)
            self.bus = self._reconnect()
            self.device.attach(self.bus)
            self.establish("handshake (storm)", since)
        else:
            self.establish("rekey", since)

    def on_stop(self) -> None:
        if self.bus is not None:
            self.bus.close()


class PacedDevice(Device):
    """The pipeline's device, waiting for each reading's PUBACK (the ``publish`` event)."""

    def _publish(self, frame: bytes) -> bool:
        bus = self._bus
        assert isinstance(bus, MQTTBus)
        return bus.publish_acked(topics.device_up(self.id), frame, self.qos, ACK_TIMEOUT_S)


class Wearable(FleetDevice):
    """A far-edge vital-signs patch at the fleet's rate."""

    _, weight, rate_scale = KINDS["wearable"]


class BedsideMonitor(FleetDevice):
    """A bedside monitor: 4x the rate, a new key epoch every 64 records."""

    _, weight, rate_scale = KINDS["bedside"]
    rekey_records = 64


class HelloReplayer(User):
    """The handshake storms' attacker: it captured HELLOs of offline registered devices
    and replays them on their topics (it can publish there, not read the answers)."""

    fixed_count = 1

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._pace = constant_pacing(1 / max(Worker.options.dthq_replayed, 0.001))
        self._hellos: list[tuple[str, bytes]] = []
        self._next = itertools.cycle(range(Worker.options.dthq_victims))

    def on_start(self) -> None:
        assert Worker.registry is not None
        for n in range(Worker.options.dthq_victims):
            victim = victim_id(n)
            hello = Initiator(Worker.registry.device_config(victim, GATEWAY)).start()
            self._hellos.append((victim, topics.frame(topics.FLIGHT, hello)))
        o = Worker.options
        self.bus = MQTTBus(
            o.dthq_broker, f"replayer-{os.urandom(3).hex()}", protocol=o.dthq_protocol or None
        )

    def wait_time(self) -> float:
        return float(self._pace(self))

    @task
    def replay(self) -> None:
        if not Worker.storms or not Worker.options.dthq_replayed:
            return  # only during the storm
        victim, frame = self._hellos[next(self._next)]
        start = time.perf_counter()
        # Counted once the broker has it: the gateway's work can then be held to it.
        acked = self.bus.publish_acked(topics.device_up(victim), frame, 1, ACK_TIMEOUT_S)
        ms = (time.perf_counter() - start) * 1000
        fire(self.environment, "replayed HELLO", ms, None if acked else "no PUBACK")

    def on_stop(self) -> None:
        self.bus.close()


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):

        def storm(**_: Any) -> None:  # Locust passes environment= and msg=
            Worker.storms += 1

        environment.runner.register_message("dthq_storm", storm)


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_: Any) -> None:
    # Here, not at init: a remote worker gets the master's options with the first spawn.
    if isinstance(environment.runner, WorkerRunner):
        Worker.setup(environment)


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.send_message(
            "dthq_samples", {"worker": Worker.index, "samples": Worker.samples}
        )
