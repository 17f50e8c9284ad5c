"""The cloud twin: terminates gateway sessions, and for each batch orders the readings
by their authenticated timestamps, updates each patient's twin (raising alerts), maps
them to a FHIR R4B transaction Bundle, and seals them into the encrypted store.

Exactly once: the consumer's MQTT session is persistent and QoS 1, and a message is
acknowledged only after its handler returns, that is after the store's transaction
committed. A message redelivered after a crash is refused by the record layer's replay
window when the session survived, and changes nothing in the store (one row per
patient and timestamp) or the twin (one reading per timestamp) when it did not.

The watch list (patients whose partial NEWS2 total is at least ``WATCH_TOTAL``) goes
back to the gateway, sealed, whenever it changes: the adaptive policy's input. Without
a twin (``twin=False``, the no-twin policy's cloud) readings are mapped and stored and
nothing is scored or sent back.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from dthq.errors import DecodeError, DTHQError
from dthq.pipeline import topics
from dthq.pipeline.clock import Clock
from dthq.pipeline.metrics import Metrics
from dthq.pipeline.provision import Registry
from dthq.pipeline.sessions import NoSessionError, Terminator
from dthq.transport.bus import Bus, Message
from dthq.twin import fhir, news2
from dthq.twin.reading import Reading, ReadingError
from dthq.twin.store import Store
from dthq.twin.twin import HISTORY, Alert, PatientTwin, Twins

WATCH_TOTAL = 2
MAX_BATCH = 4096
FHIR_TIMEOUT_S = 10.0


class FHIRSink:
    """Where bundles go: a directory, a FHIR server's base URL (POST), or nowhere (they
    are still built and validated, so the FHIR stage is always measured)."""

    def __init__(self, directory: Path | None = None, base_url: str | None = None) -> None:
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise DecodeError(f"FHIR base URL {base_url!r} must be http:// or https://")
        self.directory, self.base_url = directory, base_url
        self.bundles = 0

    def send(self, bundle: dict[str, object]) -> None:
        if self.directory is not None:
            fhir.write(bundle, self.directory)
        if self.base_url is not None:
            request = urllib.request.Request(
                self.base_url.rstrip("/"),
                data=json.dumps(bundle).encode(),
                headers={"Content-Type": "application/fhir+json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=FHIR_TIMEOUT_S) as response:
                if response.status not in (200, 201):
                    raise DecodeError(f"the FHIR server answered {response.status}")
        self.bundles += 1


class Cloud:
    def __init__(
        self,
        registry: Registry,
        bus: Bus,
        metrics: Metrics,
        store: Store,
        *,
        sink: FHIRSink | None = None,
        policy_tag: str = "clinical",
        twin: bool = True,
        clock: Clock,
    ) -> None:
        self._clock = clock
        self.twin = twin
        self._bus = bus
        self._metrics = metrics
        self._gateways = Terminator(registry.cloud_responder())
        self.twins = Twins()
        self.store = store
        self.sink = sink or FHIRSink()
        self.policy_tag = policy_tag
        self.watched: dict[str, frozenset[str]] = {}  # per gateway, as last sent
        self.listeners: list[Callable[[list[Reading], list[Alert]], None]] = []
        self._lock = threading.Lock()
        self._restore()
        bus.subscribe(topics.ALL_GATEWAYS_UP, self._on_message, qos=1)

    def _restore(self) -> None:
        """After a restart: the twins from the store, and each gateway's session from its
        saved state, so messages the broker kept (or delivers again) open, once."""
        for pid in self.store.patients():
            recent = list(self.store.readings(pid))[-HISTORY:]
            self.twins.restore(PatientTwin.from_readings(pid, recent))
        for gateway, state in self.store.sessions().items():
            self._gateways.resume(gateway, state, self._clock.now_ms())

    def _on_message(self, message: Message) -> None:
        with self._metrics.cpu("cloud"), self._lock:
            try:
                gateway = topics.party_of(message.topic)
                kind, body = topics.unframe(message.payload)
                if kind == topics.FLIGHT:
                    answer = self._gateways.flight(gateway, body, self._clock.now_ms())
                    if answer.established:  # saved at once, CONFIRM's sequence number taken
                        self.store.save_session(gateway, self._gateways.save(gateway))
                    if answer.frame is not None:
                        self._bus.publish(topics.gateway_down(gateway), answer.frame, 1)
                    return
                if kind != topics.RECORD:
                    raise DecodeError(f"frame 0x{kind:02x} does not go from a gateway to the cloud")
                t0 = time.perf_counter_ns()
                try:
                    payload, _ = self._gateways.open(gateway, body, self._clock.now_ms())
                except NoSessionError:
                    frame = self._gateways.no_session(gateway, self._clock.now_ms())
                    if frame is not None:  # the gateway handshakes again
                        self._bus.publish(topics.gateway_down(gateway), frame, 1)
                    raise
                batch = topics.decode_object(payload, "batch").get("readings")
                if not isinstance(batch, list) or not 1 <= len(batch) <= MAX_BATCH:
                    raise DecodeError(f"a batch holds 1..{MAX_BATCH} readings")
                decrypted = time.perf_counter_ns()
            except DTHQError as exc:
                self._metrics.reject("cloud", exc)
                return
            self._apply(gateway, batch, message.received_ns, (decrypted - t0) / 1e9)

    def _apply(self, gateway: str, batch: list[object], received_ns: int, decrypt: float) -> None:
        m = self._metrics
        readings = []
        for item in batch:
            try:
                readings.append(Reading.from_dict(item))
            except ReadingError as exc:
                m.reject("cloud", exc)
        readings.sort(key=lambda r: r.ts)  # the authenticated acquisition time
        t0 = time.perf_counter_ns()
        fresh, alerts = self._update_twins(readings) if self.twin else (readings, [])
        t1 = time.perf_counter_ns()
        if fresh:
            self.sink.send(fhir.bundle(fresh))
        t2 = time.perf_counter_ns()
        # The session's state (its replay window now past this record) commits with the
        # readings: a crash before the commit redelivers, one after refuses the replay.
        state = (gateway, self._gateways.save(gateway))
        stored = self.store.put(fresh, self.policy_tag, session=state)
        t3 = time.perf_counter_ns()
        if stored < len(fresh):
            m.count("duplicated", len(fresh) - stored)
        for reading in fresh:
            trace = m.trace((reading.pid, reading.ts))
            trace.cloud_in_ns, trace.decrypt = received_ns, decrypt
            trace.twin, trace.fhir, trace.store = (t1 - t0) / 1e9, (t2 - t1) / 1e9, (t3 - t2) / 1e9
            # The reading's own score, twin or not: the same readings count under every policy.
            score = news2.score(reading.hr, reading.spo2, reading.temp)
            trace.alert_relevant = score.total >= WATCH_TOTAL
            trace.done_ns = t3
        if self.twin:
            self._send_watch(gateway)
        for listener in self.listeners:
            listener(fresh, alerts)

    def _update_twins(self, readings: list[Reading]) -> tuple[list[Reading], list[Alert]]:
        """Each reading applied to its patient's twin: those new to it, and the alerts."""
        m = self._metrics
        fresh, alerts = [], []
        for reading in readings:
            twin = self.twins.get(reading.pid)
            before = twin.duplicates if twin else 0
            alert = self.twins.apply(reading)
            if self.twins[reading.pid].duplicates > before:
                m.count("duplicated")
                continue
            fresh.append(reading)
            if alert:
                alerts.append(alert)
                m.alert(alert.pid, alert.ts, alert.reason)
        return fresh, alerts

    @property
    def gateways(self) -> frozenset[str]:
        """The gateways holding a session with this cloud."""
        with self._gateways.lock:
            return frozenset(self._gateways.sessions)

    def snapshot(self, history: int = 60) -> list[dict[str, object]]:
        """Every twin as plain data (the dashboard's view), taken under the consumer's lock."""
        with self._lock:
            out = []
            for t in sorted(self.twins, key=lambda t: t.pid):
                latest, score = t.latest, t.score
                if latest is None or score is None:
                    continue
                out.append(
                    {
                        "pid": t.pid,
                        "ts": latest.ts,
                        "hr": latest.hr,
                        "spo2": latest.spo2,
                        "temp": latest.temp,
                        "news2": {
                            "total": score.total,
                            "hr": score.hr,
                            "spo2": score.spo2,
                            "temp": score.temp,
                            "red": list(score.red),
                        },
                        "trend": {v: round(t.trend(v), 2) for v in ("hr", "spo2", "temp")},
                        "spark": [r.hr for r in t.history[-history:]],
                        "alerts": [{"ts": a.ts, "reason": a.reason} for a in t.alerts[-5:]],
                        "watched": score.total >= WATCH_TOTAL,
                    }
                )
            return out

    def _send_watch(self, gateway: str) -> None:
        watched = frozenset(
            t.pid for t in self.twins if t.score is not None and t.score.total >= WATCH_TOTAL
        )
        if watched == self.watched.get(gateway, frozenset()):
            return
        with self._gateways.lock:
            session = self._gateways.sessions[gateway]
            record = session.seal(topics.encode({"watch": sorted(watched)}), self._clock.now_ms())
            state = session.save()
        self.store.save_session(gateway, state)  # before sending: no sequence number twice
        self._bus.publish(topics.gateway_down(gateway), topics.frame(topics.RECORD, record), 1)
        self._metrics.sent_bytes("cloud", len(record) + 1)  # the feedback's share of the wire
        self.watched[gateway] = watched
