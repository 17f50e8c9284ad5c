"""The near-edge gateway: terminates device sessions, validates every reading, batches,
re-compresses with Brotli and forwards over its own DTHQ session to the cloud (hop by
hop, the paper's Figure 1). Nothing invalid is forwarded; every refusal is counted
with its reason.

The batching policy is the paper's §7.1 lever:
- ``fixed``: every reading waits for the batch (``window_ms`` or ``max_batch``) and is
  compressed at one Brotli quality;
- ``adaptive``: the cloud's twin tells the gateway which patients are deteriorating
  (the watch list, sealed on the gateway's response topic); their readings go at once,
  lightly compressed, while stable patients wait longer and are compressed harder.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass

from dthq.errors import DecodeError, DTHQError, StateError
from dthq.pipeline import topics
from dthq.pipeline.device import HANDSHAKE_TIMEOUT_S, now_ms
from dthq.pipeline.metrics import Metrics
from dthq.pipeline.provision import Registry
from dthq.pipeline.sessions import Terminator
from dthq.protocol.compression import Brotli
from dthq.protocol.cookie import RetryPolicy
from dthq.protocol.handshake import Initiator
from dthq.protocol.record import RecordLayer
from dthq.transport.bus import Bus, Message
from dthq.twin.reading import Reading, ReadingError

FLUSH_TICK_S = 0.005
WORK = ("retry", "reply", "established", "refused")


@dataclass(frozen=True)
class Policy:
    name: str
    window_ms: int  # how long a stable patient's reading may wait for its batch
    max_batch: int
    quality: int  # Brotli quality for batches of stable patients
    urgent_quality: int | None = None  # adaptive only: watched patients go at once

    @property
    def adaptive(self) -> bool:
        return self.urgent_quality is not None


POLICIES = {
    # The load sweep's: no waiting beyond the flush tick (readings arriving within one
    # tick share a batch), to measure what the pipeline itself costs.
    "immediate": Policy("immediate", window_ms=0, max_batch=256, quality=5),
    "fixed": Policy("fixed", window_ms=200, max_batch=64, quality=5),
    "adaptive": Policy("adaptive", window_ms=400, max_batch=128, quality=9, urgent_quality=1),
}


def policy_named(name: str) -> Policy:
    try:
        return POLICIES[name]
    except KeyError:
        raise DecodeError(f"unknown policy {name!r}; choose {', '.join(POLICIES)}") from None


class Gateway:
    def __init__(
        self,
        gateway_id: str,
        registry: Registry,
        device_bus: Bus,
        cloud_bus: Bus,
        metrics: Metrics,
        *,
        policy: Policy = POLICIES["fixed"],
        qos: int = 1,
        retry: RetryPolicy = RetryPolicy.NEVER,
    ) -> None:
        self.id = gateway_id
        self.policy = policy
        self.qos = qos
        self._registry = registry
        self._devices = Terminator(registry.gateway_responder(gateway_id, retry, now_ms()))
        self._device_bus, self._cloud_bus = device_bus, cloud_bus
        self._metrics = metrics
        self._config = registry.gateway_config(gateway_id)
        self._initiator: Initiator | None = None
        self._upstream: RecordLayer | None = None
        self._established = threading.Event()
        self._lock = threading.Lock()  # the batch and the upstream session
        self._batch: list[Reading] = []
        self._batch_since = 0.0
        self._codecs = {q: Brotli(q) for q in {policy.quality, policy.urgent_quality or 1}}
        self.watched: frozenset[str] = frozenset()
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="gateway-flush", daemon=True)
        device_bus.subscribe(topics.ALL_DEVICES_UP, self._on_device, qos=1)
        cloud_bus.subscribe(topics.gateway_down(gateway_id), self._on_cloud, qos=1)

    @property
    def handshake_work(self) -> dict[str, int]:
        """What device handshakes cost this gateway (see Terminator.work), and how many
        are half open now."""
        work = self._devices.work
        return {k: work[k] for k in WORK} | {"half_open": self._devices.half_open}

    # the upstream session (gateway = initiator, cloud = responder)

    def connect(self, timeout: float = HANDSHAKE_TIMEOUT_S) -> None:
        self._initiator = Initiator(self._config)
        self._cloud_bus.publish(
            topics.gateway_up(self.id), topics.frame(topics.FLIGHT, self._initiator.start()), 1
        )
        if not self._established.wait(timeout):
            raise StateError(f"gateway {self.id}: no handshake with the cloud in {timeout} s")
        if not self._flusher.is_alive():
            self._flusher.start()

    def _on_cloud(self, message: Message) -> None:
        with self._metrics.cpu("gateway"):
            try:
                kind, body = topics.unframe(message.payload)
                if kind == topics.FLIGHT:
                    if self._initiator is None:
                        raise StateError("no handshake in progress")
                    finish = self._initiator.receive(body)
                    self._cloud_bus.publish(
                        topics.gateway_up(self.id), topics.frame(topics.FLIGHT, finish), 1
                    )
                    with self._lock:
                        self._upstream = RecordLayer.from_keys(
                            self._initiator.session_keys(), now_ms()
                        )
                    self._established.set()
                    return
                with self._lock:
                    if self._upstream is None:
                        raise StateError("no session with the cloud")
                    payload = self._upstream.open(body, now_ms())
                watch = topics.decode_object(payload, "watch list").get("watch")
                if not isinstance(watch, list) or not all(isinstance(p, str) for p in watch):
                    raise DecodeError("the watch list is not a list of patient ids")
                self.watched = frozenset(watch)
            except DTHQError as exc:
                self._metrics.reject("gateway from cloud", exc)

    # devices

    def _on_device(self, message: Message) -> None:
        with self._metrics.cpu("gateway"):
            self._device_message(message)

    def _device_message(self, message: Message) -> None:
        m = self._metrics
        try:
            device = topics.party_of(message.topic)
            kind, body = topics.unframe(message.payload)
            m.wire_bytes(
                "handshake in" if kind == topics.FLIGHT else "record in", len(message.payload)
            )
            if kind == topics.FLIGHT:
                with m.cpu("gateway handshakes"):  # within "gateway": the share it took
                    reply = self._devices.flight(device, body, now_ms())
                if reply is not None:
                    self._device_bus.publish(
                        topics.device_down(device), topics.frame(topics.FLIGHT, reply), 1
                    )
                    m.wire_bytes("handshake out", len(reply) + 1)
                return
            t0 = time.perf_counter_ns()
            payload, _ = self._devices.open(device, body, now_ms())
            t1 = time.perf_counter_ns()
        except DTHQError as exc:
            m.reject("gateway", exc)
            return
        try:
            reading = Reading.from_bytes(payload)
            if reading.pid != self._registry.patient_of(device):
                raise ReadingError(f"device {device} is not bound to patient {reading.pid!r}")
        except ReadingError as exc:
            m.reject("gateway", exc)
            m.count("rejected_sent")  # a genuine device's reading, refused: not lost
            return
        trace = m.trace((reading.pid, reading.ts))
        trace.gw_in_ns, trace.gw_decrypt = message.received_ns, (t1 - t0) / 1e9
        if self.policy.adaptive and reading.pid in self.watched:
            self._forward([reading], self.policy.urgent_quality)  # type: ignore[arg-type]
            return
        with self._lock:
            if not self._batch:
                self._batch_since = time.monotonic()
            self._batch.append(reading)
            full = len(self._batch) >= self.policy.max_batch
        if full:
            self._flush()

    # batches

    def _flush_loop(self) -> None:
        while not self._stop.wait(FLUSH_TICK_S):
            with self._lock:
                due = self._batch and (
                    time.monotonic() - self._batch_since >= self.policy.window_ms / 1000
                )
            if due:
                with self._metrics.cpu("gateway"):
                    self._flush()

    def _flush(self) -> None:
        with self._lock:
            batch, self._batch = self._batch, []
        if batch:
            self._forward(batch, self.policy.quality)

    def _forward(self, readings: list[Reading], quality: int) -> None:
        payload = topics.encode({"readings": [asdict(r) for r in readings]})
        with self._lock:
            if self._upstream is None:
                raise StateError("no session with the cloud")
            codec_id, body = self._upstream.compress(payload, self._codecs[quality])
            record = self._upstream.seal_compressed(codec_id, body, now_ms())
        sent = time.perf_counter_ns()
        for r in readings:
            self._metrics.trace((r.pid, r.ts)).gw_out_ns = sent
        self._cloud_bus.publish(topics.gateway_up(self.id), topics.frame(topics.RECORD, record), 1)
        self._metrics.sent_bytes("gateway", len(record) + 1)
        self._metrics.count("forwarded", len(readings))

    def close(self) -> None:
        """Forward what is waiting, then stop the flush thread."""
        self._stop.set()
        if self._flusher.is_alive():
            self._flusher.join(2)
        if self._upstream is not None:
            self._flush()
