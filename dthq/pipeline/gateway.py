"""The near-edge gateway: terminates device sessions, validates every reading, batches,
re-compresses with Brotli and forwards over its own DTHQ session to the cloud (hop by
hop, the paper's Figure 1). Nothing invalid is forwarded; every refusal is counted
with its reason.

The batching policy is the paper's §7.1 lever:
- ``fixed``: every reading waits for the batch (``window_ms`` or ``max_batch``) and is
  compressed at one Brotli quality;
- ``adaptive``: the cloud's twin tells the gateway which patients are deteriorating
  (the watch list, sealed on the gateway's response topic); their readings go at once,
  lightly compressed, while stable patients wait longer and are compressed harder;
- ``no-twin``: the paper's system "without integration of DT": the cloud keeps no twin
  (readings are mapped to FHIR and stored, nothing is scored), so nothing flows back to
  the edge, and the gateway batches as ``fixed`` does (it has no patient state to adapt
  to). ``fixed`` against ``no-twin`` is the twin's cost alone; ``adaptive`` against
  ``no-twin`` is the paper's comparison.
A batch also closes at MAX_BATCH_BYTES of readings (the sweep's large messages).

Acknowledgements: a device message is acknowledged (manual acks, see
:mod:`dthq.transport.bus`) only once it is refused (counted), a handshake flight
handled, or its reading forwarded and the batch taken by the broker (its PUBACK):
a gateway killed with readings in a batch leaves them unacknowledged, and the broker
redelivers them to its persistent session. A publish upstream that fails acks nothing.

Time: the record's authenticated timestamp dates the reading. A reading's ``ts`` may lie
at most ``TS_BEHIND_MS`` before its record's timestamp and ``TS_AHEAD_MS`` after it
(the device stamps the reading, then seals it, by one clock), else it is refused
("gateway: from the future" ahead, "gateway: invalid reading" behind); the record's own
timestamp may be at most the record layer's ``Freshness.max_skew_ms`` (2 s) ahead of the
gateway's clock.
"""

from __future__ import annotations

import random
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

from dthq.errors import DecodeError, DTHQError, FutureError, StateError
from dthq.pipeline import topics
from dthq.pipeline.clock import Clock
from dthq.pipeline.delivery import Receipts
from dthq.pipeline.device import HANDSHAKE_TIMEOUT_S
from dthq.pipeline.initiator import InitiatorSession
from dthq.pipeline.metrics import Metrics, timestamp_in
from dthq.pipeline.plain import PlainInitiator, PlainLayer, PlainTerminator, require_tls
from dthq.pipeline.provision import Registry
from dthq.pipeline.sessions import NoSessionError, Terminator
from dthq.protocol.compression import Brotli
from dthq.protocol.cookie import RetryPolicy
from dthq.protocol.keyschedule import SessionKeys
from dthq.protocol.record import RecordLayer
from dthq.transport.bus import Bus, Message
from dthq.twin.reading import Reading, ReadingError

FLUSH_TICK_S = 0.005
# Receipts go every this many flush ticks (0.25 s): each is a sealed publish per device,
# and at one per tick a device at 10 readings/s got one per reading. Nothing waits on
# them but a device's memory of its readings: it resends after RESEND_AFTER_MS (10 s).
RECEIPT_TICKS = 50
WORK = ("retry", "reply", "repeated", "established", "refused")
MAX_BATCH_BYTES = 8 << 20  # a batch's readings, as the devices sent them
MAX_WAITING = 4096  # readings a gateway with no cloud session keeps for when it has one
MAX_WAITING_BYTES = 64 << 20  # and their bytes
MAX_FORWARD = 4096  # readings in one record upstream: what the cloud takes in a batch
# How far a reading's ts may be from its record's authenticated timestamp. Ahead: the
# reading is stamped before it is sealed, so only a clock stepped between the two puts it
# after; the record layer's skew bound. Behind: a reading is sent again, under a fresh
# record, for as long as its device keeps it unsettled (a gateway or broker that was down
# for hours); older than that is not a resend but a clock fault.
TS_AHEAD_MS = 2_000
TS_BEHIND_MS = 6 * 3_600_000


@dataclass(frozen=True)
class Policy:
    name: str
    window_ms: int  # how long a stable patient's reading may wait for its batch
    max_batch: int
    quality: int  # Brotli quality for batches of stable patients
    urgent_quality: int | None = None  # adaptive only: watched patients go at once
    twin: bool = True  # False: the cloud keeps no twin, so no watch list comes back

    @property
    def adaptive(self) -> bool:
        return self.urgent_quality is not None


FIXED = Policy("fixed", window_ms=200, max_batch=64, quality=5)
POLICIES = {
    # The load sweep's: no waiting beyond the flush tick (readings arriving within one
    # tick share a batch), to measure what the pipeline itself costs.
    "immediate": Policy("immediate", window_ms=0, max_batch=256, quality=5),
    "fixed": FIXED,
    "adaptive": Policy("adaptive", window_ms=400, max_batch=128, quality=9, urgent_quality=1),
    "no-twin": replace(FIXED, name="no-twin", twin=False),  # the same edge, no twin behind it
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
        pool: Sequence[str] = (),
        member: str | None = None,
        clock: Clock,
        plain: bool = False,
    ) -> None:
        """``pool``: the member ids of a gateway pool sharing the device-facing identity
        ``gateway_id`` behind an MQTT 5 shared subscription; this one is ``member`` (its
        own identity with the cloud). The broker hands each device message to any
        member, round robin; a device's sessions live with one member, its owner by a
        hash of the device id, so a message that lands elsewhere is forwarded to it
        (one more broker hop, for (n-1)/n of the messages). ``plain``: the tls scheme's
        sessions (see :mod:`dthq.pipeline.plain`)."""
        self.id = gateway_id
        self.member = member or gateway_id
        self.pool = tuple(pool)
        if self.pool and self.member not in self.pool:
            raise StateError(f"gateway {self.member} is not in its pool {self.pool}")
        self.policy = policy
        self.qos = qos
        self._registry = registry
        self._clock = clock
        responder = registry.gateway_responder(gateway_id, clock.now_ms(), retry)
        self._devices: Terminator | PlainTerminator
        self._upstream_handshake: InitiatorSession | PlainInitiator
        if plain:
            for bus in (device_bus, cloud_bus):
                require_tls(bus, f"gateway {self.member}")
            self._devices = PlainTerminator(responder)
            self._upstream_handshake = PlainInitiator(PlainLayer)
        else:
            self._devices = Terminator(responder)
            self._upstream_handshake = InitiatorSession(
                registry.gateway_config(self.member),
                self._upstream_layer,
                random.Random(zlib.crc32(self.member.encode())),
            )
        self._device_bus, self._cloud_bus = device_bus, cloud_bus
        self._metrics = metrics
        self._upstream: RecordLayer | PlainLayer | None = None
        self._established = threading.Event()
        self._lock = threading.Lock()  # the batch and the upstream session
        self._batch: list[tuple[Reading, Message]] = []  # each with its unacked message
        self._batch_bytes = 0
        self._batch_since = 0.0
        self._codecs = {q: Brotli(q) for q in {policy.quality, policy.urgent_quality or 1}}
        self.watched: frozenset[str] = frozenset()
        self.receipts = Receipts()  # end to end: what each batch carried, what is owed
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="gateway-flush", daemon=True)
        self._flusher.start()  # once: it also runs the upstream handshake's retries
        if self.pool:
            device_bus.subscribe(
                topics.shared(gateway_id, topics.ALL_DEVICES_UP), self._on_device, manual_ack=True
            )
            device_bus.subscribe(
                topics.pool_inbox(self.member), self._on_forwarded, qos=1, manual_ack=True
            )
        else:
            device_bus.subscribe(topics.ALL_DEVICES_UP, self._on_device, qos=1, manual_ack=True)
        cloud_bus.subscribe(topics.gateway_down(self.member), self._on_cloud, qos=1)

    @property
    def handshake_work(self) -> dict[str, int]:
        """What device handshakes cost this gateway (see Terminator.work), and how many
        are half open now."""
        work = self._devices.work
        return {k: work[k] for k in WORK} | {"half_open": self._devices.half_open}

    # the upstream session (gateway = initiator, cloud = responder)

    def connect(self, timeout: float = HANDSHAKE_TIMEOUT_S) -> None:
        """Handshake with the cloud until it CONFIRMs (the flush thread runs it again
        when no CONFIRM comes in time, and from then on whenever the cloud says
        NO_SESSION); the batches keep going under the current session meanwhile."""
        self._established.clear()
        hello = self._upstream_handshake.start(self._clock.now_ms())
        if hello is None:  # plain: the TLS connection was the handshake
            with self._lock:
                self._upstream = self._upstream_handshake.session
            self._established.set()
        else:
            self._to_cloud(hello)
        if not self._established.wait(timeout):
            raise StateError(f"gateway {self.id}: no handshake with the cloud in {timeout} s")

    @property
    def connected(self) -> bool:
        """The cloud has CONFIRMed the handshake ``connect`` (or a re-handshake) ran."""
        return self._established.is_set()

    def _upstream_layer(self, keys: SessionKeys, now_ms: int) -> RecordLayer:
        return RecordLayer.from_keys(keys, now_ms, max_payload=topics.MAX_PAYLOAD)

    def _to_cloud(self, frame: bytes) -> None:
        self._cloud_bus.publish(topics.gateway_up(self.member), frame, 1)

    def _poll_upstream(self) -> None:
        try:
            hello = self._upstream_handshake.poll(self._clock.now_ms())
            if hello is not None:
                self._to_cloud(hello)
        except DTHQError as exc:  # the bus went away: the next tick tries again
            self._metrics.reject("gateway to cloud", exc)

    def _on_cloud(self, message: Message) -> None:
        with self._metrics.cpu("gateway"):
            try:
                kind, body = topics.unframe(message.payload)
                if kind != topics.RECORD:
                    self._upstream_message(kind, body)
                    return
                with self._lock:
                    if self._upstream is None:
                        raise StateError("no session with the cloud")
                    payload = self._upstream.open(body, self._clock.now_ms())
                self._cloud_says(topics.decode_object(payload, "the cloud's answer"))
            except DTHQError as exc:
                self._metrics.reject("gateway from cloud", exc)

    def _cloud_says(self, answer: dict[str, object]) -> None:
        """A batch settled (its receipt, owed on to the devices), a new watch list."""
        watch, settled = answer.get("watch"), answer.get("settled")
        if watch is not None and (
            not isinstance(watch, list) or not all(isinstance(p, str) for p in watch)
        ):
            raise DecodeError("the watch list is not a list of patient ids")
        if settled is not None and (type(settled) is not int or settled < 0):
            raise DecodeError("a receipt's batch number is not a non-negative integer")
        if watch is not None:
            self.watched = frozenset(watch)
        if settled is not None:
            with self._lock:
                self.receipts.settled(settled)

    def _send_receipts(self) -> None:
        """What the cloud settled (and the gateway refused) since the last receipts, to
        each device, sealed under its session: one receipt per device per RECEIPT_TICKS
        at most."""
        now = self._clock.now_ms()
        with self._lock:
            owed = self.receipts.owed()
        for device, stamps in owed.items():
            record = self._devices.seal(device, topics.encode({"settled": stamps}), now)
            if record is None:  # no session now: the device sends them again, later
                continue
            frame = topics.frame(topics.RECORD, record)
            self._device_bus.publish(topics.device_down(device), frame, 1)
            self._metrics.wire_bytes("receipts out", len(frame))

    def _upstream_message(self, kind: int, body: bytes) -> None:
        """A handshake frame from the cloud: the upstream session moves only on CONFIRM."""
        handshake = self._upstream_handshake
        confirmed = handshake.confirmed
        answer = handshake.receive(kind, body, self._clock.now_ms())
        if answer is not None:
            self._to_cloud(answer)
        if handshake.confirmed != confirmed:
            with self._lock:
                self._upstream = handshake.session
            self._established.set()

    # devices

    def owner(self, device: str) -> str:
        """The pool member holding ``device``'s sessions (itself outside a pool)."""
        if not self.pool:
            return self.member
        return self.pool[zlib.crc32(device.encode()) % len(self.pool)]

    def _on_device(self, message: Message) -> None:
        with self._metrics.cpu("gateway"):
            if self.pool:
                try:
                    device = topics.party_of(message.topic)
                except DTHQError as exc:
                    self._metrics.reject("gateway", exc)
                    message.ack()
                    return
                owner = self.owner(device)
                if owner != self.member:
                    # Acked once the broker has it for the owner (the owner acks its copy).
                    self._device_bus.publish(
                        topics.pool_forward(owner, device),
                        message.payload,
                        message.qos,
                        on_taken=message.ack,
                    )
                    self._metrics.count("handed to a pool member")
                    return
            self._device_message(message)

    def _device_handshake(self, device: str, kind: int, body: bytes) -> None:
        if kind != topics.FLIGHT:
            raise DecodeError(f"frame 0x{kind:02x} does not go from a device to its gateway")
        with self._metrics.cpu("gateway handshakes"):  # within "gateway": the share it took
            answer = self._devices.flight(device, body, self._clock.now_ms())
        if answer.frame is not None:
            self._device_bus.publish(topics.device_down(device), answer.frame, 1)
            self._metrics.wire_bytes("handshake out", len(answer.frame))

    def _tell_no_session(self, device: str) -> None:
        frame = self._devices.no_session(device, self._clock.now_ms())
        if frame is not None:
            self._device_bus.publish(topics.device_down(device), frame, 1)

    def _on_forwarded(self, message: Message) -> None:
        """A device's message another pool member took from the shared subscription."""
        device = message.topic.rsplit("/", 1)[-1]
        with self._metrics.cpu("gateway"):
            try:
                topics.check_party_id(device, "device id")
            except DTHQError as exc:
                self._metrics.reject("gateway", exc)
                message.ack()
                return
            self._device_message(replace(message, topic=topics.device_up(device)))

    def _device_message(self, message: Message) -> None:
        """Handle one device message; ack it unless a batch, the held records or an
        upstream publish took it over (they ack it in their time)."""
        if not self._take(message):
            message.ack()

    def _take(self, message: Message) -> bool:
        m = self._metrics
        try:
            device = topics.party_of(message.topic)
            kind, body = topics.unframe(message.payload)
            m.wire_bytes(
                "handshake in" if kind == topics.FLIGHT else "record in", len(message.payload)
            )
            if kind != topics.RECORD:
                self._device_handshake(device, kind, body)
                return False
            t0 = time.perf_counter_ns()
            try:
                payload, stamped = self._devices.open(device, body, self._clock.now_ms())
            except NoSessionError:
                # No record can overtake its FINISH (a device sends none before CONFIRM,
                # which follows FINISH), so none is held: the device is told instead.
                self._tell_no_session(device)
                raise
            t1 = time.perf_counter_ns()
        except DTHQError as exc:
            m.reject("gateway", exc)
            return False
        try:
            reading = Reading.from_bytes(payload)
            if reading.pid != self._registry.patient_of(device):
                raise ReadingError(f"device {device} is not bound to patient {reading.pid!r}")
            check_dated(reading, stamped)
        except (ReadingError, FutureError) as exc:
            m.reject("gateway", exc)
            # a genuine device's reading, refused: not lost (its trace goes), and settled:
            # the device must not send it again
            m.refuse_sent(self._registry.patient_of(device), payload)
            ts = timestamp_in(payload)
            if ts is not None:
                with self._lock:
                    self.receipts.refused(device, ts)
            return False
        trace = m.trace((reading.pid, reading.ts))
        trace.gw_in_ns, trace.gw_decrypt = message.received_ns, (t1 - t0) / 1e9
        if self.policy.adaptive and reading.pid in self.watched:
            if self._forward([(reading, message)], self.policy.urgent_quality):  # type: ignore[arg-type]
                return True
            with self._lock:  # no cloud session: it waits with the batch
                self._keep([(reading, message)])
            return True
        with self._lock:
            if not self._batch:
                self._batch_since = self._clock.monotonic_s()
            self._batch.append((reading, message))
            self._batch_bytes += len(payload)
            full = len(self._batch) >= self.policy.max_batch or self._batch_bytes >= MAX_BATCH_BYTES
        if full:
            self._flush()
        return True

    # batches

    def _flush_loop(self) -> None:
        ticks = 0
        while not self._stop.wait(FLUSH_TICK_S):
            ticks += 1
            try:
                self._tick(receipts=ticks % RECEIPT_TICKS == 0)
            except DTHQError as exc:  # the bus went away, say: the next tick tries again
                self._metrics.reject("gateway", exc)
            except Exception as exc:  # a bug must not stop the flush thread: counted
                self._metrics.fail("gateway error")
                self._metrics.reject("gateway", exc)

    def _tick(self, *, receipts: bool = True) -> None:
        self._poll_upstream()  # the upstream handshake's timeout and backoff
        if receipts:
            self._send_receipts()
        with self._lock:
            due = self._batch and (
                self._clock.monotonic_s() - self._batch_since >= self.policy.window_ms / 1000
            )
        if due:
            with self._metrics.cpu("gateway"):
                self._flush()

    def _flush(self) -> None:
        """Forward what waits, ``max_batch`` readings a record at most (readings kept
        while there was no cloud session can be more); a forward that fails puts its
        readings back."""
        with self._lock:
            batch, self._batch, self._batch_bytes = self._batch, [], 0
        size = min(self.policy.max_batch, MAX_FORWARD)
        for at in range(0, len(batch), size):
            forwarded = False
            try:
                forwarded = self._forward(batch[at : at + size], self.policy.quality)
            finally:
                if not forwarded:  # no cloud session, or it failed: the rest waits, in order
                    with self._lock:
                        self._keep(batch[at:])
            if not forwarded:
                return

    def _forward(self, batch: list[tuple[Reading, Message]], quality: int) -> bool:
        """Seal the readings into one record and publish it upstream; False, doing
        nothing, when there is no session with the cloud."""
        readings = [r for r, _ in batch]
        with self._lock:
            if self._upstream is None:
                return False
            carried = [(topics.party_of(msg.topic), r.ts) for r, msg in batch]
            forgotten = self.receipts.forgotten
            number = self.receipts.batch(carried)
            if self.receipts.forgotten > forgotten:  # their devices resend: counted
                self._metrics.count("receipts forgotten", self.receipts.forgotten - forgotten)
            payload = topics.encode({"batch": number, "readings": [r.to_dict() for r in readings]})
            codec_id, body = self._upstream.compress(payload, self._codecs[quality])
            record = self._upstream.seal_compressed(codec_id, body, self._clock.now_ms())
        sent = time.perf_counter_ns()
        for r in readings:
            self._metrics.trace((r.pid, r.ts)).gw_out_ns = sent
        messages = [message for _, message in batch]

        def taken() -> None:  # the broker's PUBACK: the readings are upstream's now
            self._metrics.count("forwarded", len(messages))
            for message in messages:
                message.ack()

        if self._cloud_bus.publish(
            topics.gateway_up(self.member), topics.frame(topics.RECORD, record), 1, on_taken=taken
        ):
            self._metrics.sent_bytes("gateway", len(record) + 1)
        else:  # not taken: the device messages stay unacked (redelivered on reconnect)
            self._metrics.count("upstream refused", len(messages))
        return True

    def _keep(self, batch: list[tuple[Reading, Message]]) -> None:
        """No session with the cloud yet: the readings wait in the batch (under the lock),
        at most MAX_WAITING; past it the oldest go, their messages acked and counted: their
        devices still hold them and send them again (receipts)."""
        if not self._batch:
            self._batch_since = self._clock.monotonic_s()
        self._batch[:0] = batch
        self._batch_bytes += sum(len(m.payload) for _, m in batch)
        over = 0  # the oldest go first, until both bounds hold
        while over < len(self._batch) and (
            len(self._batch) - over > MAX_WAITING or self._batch_bytes > MAX_WAITING_BYTES
        ):
            self._batch_bytes -= len(self._batch[over][1].payload)
            over += 1
        if over:
            for _, message in self._batch[:over]:
                message.ack()
            del self._batch[:over]
            self._metrics.count("waiting for the cloud, dropped (devices resend)", over)

    def close(self) -> None:
        """Forward what is waiting, then stop the flush thread (what is forwarded now is
        acked when, and if, the broker takes it before the bus closes)."""
        self._stop.set()
        if self._flusher.is_alive():
            self._flusher.join(2)
        if self._upstream is not None:
            self._flush()


def check_dated(reading: Reading, stamped_ms: int) -> None:
    """The reading's ``ts`` bound to its record's authenticated timestamp (see the
    module's doc): a device clock fault must not date a reading years ahead."""
    ahead = reading.ts - stamped_ms
    if ahead > TS_AHEAD_MS:
        raise FutureError(
            f"reading ts {reading.ts} is {ahead} ms after its record's timestamp; "
            f"at most {TS_AHEAD_MS} ms is allowed"
        )
    if -ahead > TS_BEHIND_MS:
        raise ReadingError(
            f"reading ts {reading.ts} is {-ahead} ms before its record's timestamp; "
            f"at most {TS_BEHIND_MS} ms is allowed"
        )
