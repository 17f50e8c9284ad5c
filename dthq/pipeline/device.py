"""The far-edge device: telemetry -> LZ4 -> a DTHQ record -> its own MQTT topic.

The handshake's flights travel on the device's request/response topics too. The
device counts itself established only on the gateway's CONFIRM, and runs the handshake
again when none comes in time or when the gateway says NO_SESSION (see
:mod:`dthq.pipeline.initiator`); ``poll`` is the hook the run's scheduler calls for it.
The session outlives broker disconnects (records protect themselves; the gateway keeps
the session), so after a reconnect the device resumes without a new handshake.
Each reading is kept until the gateway's sealed receipt says it is settled (stored by
the cloud, or refused), and sent again when none comes (see
:mod:`dthq.pipeline.delivery`): a broker or gateway that dies loses nothing a device
still holds. At QoS 0 readings taken while the broker is away are dropped.
The record layer rekeys every ``rekey_records`` records, so long runs cross epochs.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from dthq.errors import DecodeError, DTHQError, StateError
from dthq.harness.telemetry import TelemetryGenerator, encode
from dthq.pipeline import topics
from dthq.pipeline.clock import Clock
from dthq.pipeline.delivery import Unsettled
from dthq.pipeline.initiator import InitiatorSession
from dthq.pipeline.metrics import Metrics
from dthq.pipeline.plain import PlainInitiator, PlainLayer, require_tls
from dthq.pipeline.provision import Registry
from dthq.protocol.compression import LZ4Block
from dthq.protocol.keyschedule import SessionKeys
from dthq.protocol.record import Freshness, RecordLayer, RekeyPolicy
from dthq.transport.bus import Bus, Message

HANDSHAKE_TIMEOUT_S = 15.0
POLL_S = 0.05  # how often wait_established runs poll()
PPG_FIELD = ',"ppg":""'  # what the waveform's key adds to a reading's JSON
Settled = Callable[[str, list[int]], None]  # (patient, the timestamps settled)


class Device:
    def __init__(
        self,
        device_id: str,
        gateway_id: str,
        registry: Registry,
        bus: Bus,
        metrics: Metrics,
        *,
        qos: int = 1,
        rate_hz: float = 1.0,
        seed: int = 0,
        deteriorate_after_s: float | None = None,
        deterioration_speed: float = 1.0,
        rekey_records: int = 256,
        fault_rate: float = 0.0,
        message_bytes: int = 0,
        on_generated: Callable[[str, int], None] | None = None,
        on_settled: Settled | None = None,
        clock: Clock,
        plain: bool = False,
    ) -> None:
        """``fault_rate``: the share of readings a faulty sensor garbles (SpO2 above 100 %),
        for the gateway to refuse. ``message_bytes``: if set, each reading carries the PPG
        window that makes its JSON that long (to 4 bytes; the §7.1 sweep's sizes).
        ``clock`` stamps readings and records: a device with a clock behind sends stale
        records. ``on_generated`` hears each reading as it is taken, before it is sent, and
        ``on_settled`` each receipt (the fault suite's log). ``plain``: the tls scheme (see
        :mod:`dthq.pipeline.plain`), readings in clear through a TLS connection."""
        self._clock = clock
        self._last_ts = 0
        self.id = device_id
        self.patient = registry.patient_of(device_id) or device_id
        self._config = registry.device_config(device_id, gateway_id)
        self._metrics = metrics
        self.qos = qos
        self._step_s = 1.0 / rate_hz
        self._generator = TelemetryGenerator(
            seed=seed,
            patient=self.patient,
            start_ms=clock.now_ms(),
            deteriorate_after_s=deteriorate_after_s,
            deterioration_speed=deterioration_speed,
        )
        self._faults = random.Random(seed ^ 0x5EED) if fault_rate else None
        self._fault_rate = fault_rate
        self._message_bytes = message_bytes
        self._rekey = RekeyPolicy(max_records=rekey_records)
        self._codec = LZ4Block()
        if plain:
            require_tls(bus, f"device {device_id}")
        self._handshake: InitiatorSession | PlainInitiator = (
            PlainInitiator(lambda: PlainLayer(self._codec, Freshness.OFF))
            if plain
            else InitiatorSession(self._config, self._session, random.Random(seed))
        )
        self.unsettled = Unsettled()
        self._on_generated, self._on_settled = on_generated, on_settled
        self._lock = threading.Lock()  # the session's records: the scheduler and the bus
        self._established = threading.Event()  # the handshake() asked for is confirmed
        self.error: str | None = None
        self.attach(bus)

    def _session(self, keys: SessionKeys, now_ms: int) -> RecordLayer:
        # The down direction carries CONFIRM and receipts, whose proof is their keys (and
        # the replay window): no freshness check, so a device whose clock is off still
        # learns it is established (the gateway refuses its stale readings).
        return RecordLayer.from_keys(
            keys,
            now_ms,
            codec=self._codec,
            rekey=self._rekey,
            freshness=Freshness.OFF,
            max_payload=topics.MAX_PAYLOAD,
        )

    @property
    def session(self) -> RecordLayer | PlainLayer | None:
        """The confirmed session the readings go out under."""
        return self._handshake.session

    def attach(self, bus: Bus) -> None:
        """Talk through ``bus`` from now on (a new connection after a reconnect)."""
        self._bus = bus
        bus.subscribe(topics.device_down(self.id), self._on_down, qos=1)

    def handshake(self) -> None:
        """Send HELLO; REPLY comes on the down topic, FINISH goes back, then CONFIRM
        comes. Readings go on under the current session (if any) until then."""
        self._established.clear()
        hello = self._handshake.start(self._clock.now_ms())
        if hello is None:  # plain: the TLS connection was the handshake
            self._established.set()
            return
        self._up(hello)

    def wait_established(self, timeout: float = HANDSHAKE_TIMEOUT_S) -> None:
        """Until CONFIRM, running the handshake again as ``poll`` decides. ``timeout`` is
        the caller's wait in real seconds (as ``Event.wait``'s); what poll decides goes
        by the clock."""
        deadline = time.monotonic() + timeout
        while not self._established.wait(POLL_S):
            self.poll()
            if time.monotonic() >= deadline:
                raise StateError(f"device {self.id}: no handshake in {timeout} s ({self.error})")

    def poll(self) -> None:
        """The scheduler's hook: a new HELLO if the attempt in progress timed out, or if
        nothing was settled for long; readings whose receipt is overdue, sent again."""
        now = self._clock.now_ms()
        hello = self._handshake.poll(now)
        if hello is None and self.unsettled.suspect(now):
            hello = self._handshake.suspect(now)
        if hello is not None:
            self._up(hello)
        if self.session is not None:
            self._resend(self.unsettled.due(now))

    def _resend(self, readings: list[tuple[int, bytes]]) -> None:
        session = self.session
        if session is None or not readings:
            return
        with self._metrics.cpu("device"):
            for _, payload in readings:
                with self._lock:
                    codec_id, body = session.compress(payload)
                    record = session.seal_compressed(codec_id, body, self._clock.now_ms())
                if self._publish(topics.frame(topics.RECORD, record)):
                    self._metrics.sent_bytes("device", len(record) + 1)
        self._metrics.count("resent", len(readings))

    def _up(self, frame: bytes) -> None:
        self._bus.publish(topics.device_up(self.id), frame, 1)

    def _on_down(self, message: Message) -> None:
        try:
            kind, body = topics.unframe(message.payload)
            if kind == topics.RECORD:
                self._receipt(body)
                return
            confirmed = self._handshake.confirmed
            answer = self._handshake.receive(kind, body, self._clock.now_ms())
            if answer is not None:
                self._up(answer)
            if self._handshake.confirmed != confirmed:
                self._established.set()
                # A new session: what the old one left unsettled goes again at once (a
                # gateway that lost its sessions refused it as "no session").
                self._resend(self.unsettled.due(self._clock.now_ms(), all_now=True))
        except DTHQError as exc:
            self.error = str(exc)

    def _receipt(self, body: bytes) -> None:
        """The gateway's sealed receipt: readings settled, to forget."""
        session = self.session
        if session is None:
            raise StateError("a receipt with no session")
        now = self._clock.now_ms()
        with self._lock:
            payload = session.open(body, now)
        stamps = topics.decode_object(payload, "receipt").get("settled")
        if not isinstance(stamps, list) or not all(type(t) is int for t in stamps):
            raise DecodeError("a receipt's settled is not a list of timestamps")
        settled = self.unsettled.settle(stamps, now)
        if settled and self._on_settled is not None:
            self._on_settled(self.patient, settled)

    def tick(self) -> bool:
        """Take one reading and send it; False if the bus dropped it (QoS 0, offline)."""
        session = self.session
        if session is None:
            raise StateError(f"device {self.id} has no session")
        m = self._metrics
        with m.cpu("device"):
            return self._send_reading(session, m)

    def _send_reading(self, session: RecordLayer | PlainLayer, m: Metrics) -> bool:
        start = time.perf_counter_ns()
        reading = self._generator.reading(self._step_s)
        # The acquisition time (the twin orders by it), strictly increasing per device:
        # a reading is identified by (patient, ts) all the way to the store.
        self._last_ts = max(self._clock.now_ms(), self._last_ts + 1)
        reading["ts"] = self._last_ts
        if self._faults and self._faults.random() < self._fault_rate:
            reading["spo2"] = 101.5
        if self._message_bytes:
            room = self._message_bytes - len(encode(reading)) - len(PPG_FIELD)
            reading["ppg"] = self._generator.ppg_window(max(0, room))
        payload = encode(reading)
        dropped = self.unsettled.dropped
        self.unsettled.keep(self._last_ts, payload, self._clock.now_ms())
        if self.unsettled.dropped > dropped:  # sent once more, and never resent: counted
            m.count("unsettled dropped", self.unsettled.dropped - dropped)
        if self._on_generated is not None:
            self._on_generated(self.patient, self._last_ts)
        t1 = time.perf_counter_ns()
        with self._lock:
            codec_id, body = session.compress(payload)
            t2 = time.perf_counter_ns()
            record = session.seal_compressed(codec_id, body, self._clock.now_ms())
        t3 = time.perf_counter_ns()
        trace = m.trace((self.patient, reading["ts"]))  # type: ignore[arg-type]
        trace.start_ns, trace.sent_ns = start, t3
        trace.acquire, trace.compress, trace.encrypt = (
            (t1 - start) / 1e9,
            (t2 - t1) / 1e9,
            (t3 - t2) / 1e9,
        )
        ok = self._publish(topics.frame(topics.RECORD, record))
        m.count("sent" if ok else "dropped")
        if ok:
            m.sent_bytes("device", len(record) + 1)
        return ok

    def _publish(self, frame: bytes) -> bool:
        return self._bus.publish(topics.device_up(self.id), frame, self.qos)
