"""The cloud twin: terminates gateway sessions, and for each batch orders the readings
by their authenticated timestamps, updates each patient's twin (raising alerts), maps
them to a FHIR R4B transaction Bundle, and seals them into the encrypted store.

Exactly once: the consumer's MQTT session is persistent and QoS 1, and a message is
acknowledged (manual acks) only once it is durably handled: a gateway record after the
store's transaction committed its readings with the session's state, a handshake flight
once handled, a refused message once counted. A message redelivered after a crash is
refused by the record layer's replay window when the session survived, and changes
nothing in the store (one row per patient and timestamp) or the twin (one reading per
timestamp) when it did not.

Over MQTT the bus's thread only queues messages and one worker thread handles them in
order (paho's network thread must keep up its keepalive while the store is slow; the
broker's in-flight window bounds the queue); on the memory bus they run on its thread,
so its bound holds the pipeline back. A store that fails
(locked beyond SQLite's busy timeout, disk full) is retried with exponential backoff,
``RETRY_FIRST_S`` doubling to ``RETRY_MAX_S``, for as long as the cloud runs; each
failure is counted by outcome (``Metrics.fail``: "store locked", "disk full", "store
error"), and the message stays unacknowledged until its commit. A cloud closed while
retrying acks nothing and puts the gateway's session back where it was before the
record opened, so the record opens again when the broker redelivers it.

Time: a reading dated more than ``twin.MAX_SKEW_MS`` ahead of the cloud's clock is
refused ("cloud: from the future"), whatever the gateway let through.

Each committed batch is answered with a sealed receipt, ``{"settled": N}`` (see
:mod:`dthq.pipeline.delivery`), which also carries the watch list (patients whose
partial NEWS2 total is at least ``WATCH_TOTAL``) whenever it changes: the adaptive
policy's input. Without a twin (``twin=False``, the no-twin policy's cloud) readings
are mapped and stored and nothing is scored; only receipts go back.
"""

from __future__ import annotations

import contextlib
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from dthq.errors import DecodeError, DTHQError, FutureError
from dthq.pipeline import topics
from dthq.pipeline.clock import Clock
from dthq.pipeline.metrics import Metrics
from dthq.pipeline.outbox import Destination, FHIRDirectory, FHIRServer, Sender
from dthq.pipeline.plain import PlainTerminator, require_tls
from dthq.pipeline.provision import Registry
from dthq.pipeline.sessions import NoSessionError, Terminator
from dthq.transport.bus import Bus, Message
from dthq.twin import fhir, news2
from dthq.twin.reading import Reading, ReadingError
from dthq.twin.store import Store, StoreError
from dthq.twin.twin import HISTORY, MAX_SKEW_MS, Alert, PatientTwin, Twins

RETRY_FIRST_S = 0.05  # the store's first retry; doubling ...
RETRY_MAX_S = 2.0  # ... to this, then every this long, until the commit or close()

WATCH_TOTAL = 2
INBOX_MAX = 4096  # records the worker may have waiting
CLOSE_WAIT_S = 10.0  # the longest a close waits for the message being handled
MAX_BATCH = 4096


def store_outcome(exc: BaseException) -> str:
    """A store failure's name, for ``Metrics.fail``. The cause is looked for down the
    chain: SQLite rolls a transaction back itself on SQLITE_FULL, and the ROLLBACK the
    store then sends fails ("no transaction is active") with the cause as its context."""
    seen: BaseException | None = exc
    while seen is not None:
        code = getattr(seen, "sqlite_errorcode", None)
        text = str(seen)
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "database is locked" in text:
            return "store locked"
        if code == sqlite3.SQLITE_FULL or "database or disk is full" in text:
            return "disk full"
        seen = seen.__context__
    return "store error"


class _Closed(Exception):
    """The cloud closed while a commit was still failing: nothing is acked."""


class FHIRSink:
    """Where bundles go: a directory, a FHIR server's base URL (POST), both, or nowhere
    (they are still built and validated, so the FHIR stage is always measured). With a
    destination, each Bundle commits into the store's outbox with its readings, and the
    outbox's sender (:mod:`dthq.pipeline.outbox`) delivers it: a server that is down
    delays the Bundle, never loses it."""

    def __init__(self, directory: Path | None = None, base_url: str | None = None) -> None:
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise DecodeError(f"FHIR base URL {base_url!r} must be http:// or https://")
        self.directory, self.base_url = directory, base_url
        self.destinations: list[Destination] = []
        if directory is not None:
            self.destinations.append(FHIRDirectory(directory))
        if base_url is not None:
            self.destinations.append(FHIRServer(base_url))

    def encode(self, bundle: dict[str, object]) -> bytes | None:
        """The Bundle's bytes for the outbox; None when it goes nowhere."""
        if not self.destinations:
            return None
        return json.dumps(bundle, separators=(",", ":")).encode()


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
        fhir_bundles: bool = True,
        clock: Clock,
        plain: bool = False,
    ) -> None:
        """``fhir_bundles=False``: no Bundle is built or validated (the FHIR stage's cost
        measured by its absence). ``plain``: the tls scheme's sessions (see
        :mod:`dthq.pipeline.plain`)."""
        self._clock = clock
        self.twin = twin
        self.fhir_bundles = fhir_bundles
        if fhir_bundles:
            fhir.prepare()
        self._bus = bus
        self._metrics = metrics
        if plain:
            require_tls(bus, "cloud")
        responder = registry.cloud_responder()
        self._gateways: Terminator | PlainTerminator = (
            PlainTerminator(responder) if plain else Terminator(responder)
        )
        self.twins = Twins()
        self.store = store
        self.sink = sink or FHIRSink()
        self.policy_tag = policy_tag
        self.watched: dict[str, frozenset[str]] = {}  # per gateway, as last sent
        self.listeners: list[Callable[[list[Reading], list[Alert]], None]] = []
        self._lock = threading.Lock()
        # Bounded: MQTT 3.1.1 (amqtt) has no Receive Maximum to bound what a broker sends
        # unacked; past INBOX_MAX the network thread waits, and TCP holds the broker back.
        self._inbox: queue.Queue[Message | None] = queue.Queue(INBOX_MAX)
        self._stop = threading.Event()
        self._pending = 0  # messages queued or being handled
        self._idle = threading.Condition()
        store.claim_writer()  # one cloud per store: its sessions' sequence numbers are its own
        self._restore()
        # The watch list kept as readings change it (not found again over every twin
        # each batch): only a patient whose twin a batch changed can join or leave it.
        self._watching = {
            t.pid for t in self.twins if t.score is not None and t.score.total >= WATCH_TOTAL
        }
        self._watch_list = frozenset(self._watching)
        # The outbox's sender: also what a previous run left unsent goes out now.
        self.sender = Sender(store, self.sink.destinations, metrics, clock)
        if self.sink.destinations:
            self.sender.start()
        # A network thread must keep up its keepalive while the store is slow: the records
        # go to a worker, their number bounded by the broker's in-flight window (manual
        # acks). A bus whose delivery thread may block (the memory bus) runs them on it:
        # the bus's own bound then holds the whole pipeline back, as a queue here would not.
        self._inline = bool(getattr(bus, "handlers_may_block", False))
        self._handler: int | None = None  # the thread handling a message, inline
        self._worker: threading.Thread | None = None
        if not self._inline:
            self._worker = threading.Thread(target=self._work, name="cloud-worker", daemon=True)
            self._worker.start()
        bus.subscribe(topics.ALL_GATEWAYS_UP, self._receive, qos=1, manual_ack=True)

    def _receive(self, message: Message) -> None:
        """On the bus's thread: queue for the worker (acked when handled durably). A
        gateway publishes at QoS 1, whose in-flight window the broker bounds: what comes
        at QoS 0 is no gateway's, and is refused here so the queue stays bounded."""
        if message.qos < 1:
            self._metrics.reject("cloud", DecodeError("a message at QoS 0 on a gateway topic"))
            message.ack()
            return
        if self._stop.is_set():
            return  # closed: left unacknowledged, for the broker to redeliver
        with self._idle:
            self._pending += 1
        if self._inline:
            self._handle(message)
            return
        while True:  # a full queue: wait for the worker, unless the cloud closes meanwhile
            try:
                self._inbox.put(message, timeout=0.5)
                return
            except queue.Full:
                if self._stop.is_set():
                    with self._idle:
                        self._pending -= 1
                    return

    def _work(self) -> None:
        while (message := self._inbox.get()) is not None and not self._stop.is_set():
            if not self._handle(message):
                break

    def _handle(self, message: Message) -> bool:
        """One message, acked once durably handled; False once the cloud has closed."""
        self._handler = threading.get_ident()
        try:
            try:
                self._on_message(message)
            except _Closed:
                return False
            except (sqlite3.Error, StoreError) as exc:  # the handshake branch's own save
                self._metrics.fail(store_outcome(exc))  # unacked: the broker redelivers
            except DTHQError as exc:  # a batch that can never be stored: refused, counted
                self._metrics.reject("cloud", exc)
                message.ack()
            except Exception as exc:  # a bug must not stop the worker: counted, not silent
                self._metrics.fail("cloud error")
                self._metrics.reject("cloud", exc)
                message.ack()
            else:
                message.ack()
            return True
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every message received so far is handled (True), or ``timeout`` s."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        """Stop the worker after the message it is on (a failing commit gives up):
        what is still queued stays unacknowledged, for the broker to redeliver."""
        self._stop.set()
        with contextlib.suppress(queue.Full):  # a full queue: the worker is not waiting
            self._inbox.put_nowait(None)
        if self._worker is not None and threading.current_thread() is not self._worker:
            self._worker.join()
        elif self._inline and self._handler != threading.get_ident():
            self.wait_idle(CLOSE_WAIT_S)  # the bus's thread gives up its retrying commit
        self.sender.stop()  # what it has not sent stays in the outbox

    def _restore(self) -> None:
        """After a restart: the twins from the store, and each gateway's session from its
        saved state, so messages the broker kept (or delivers again) open, once."""
        now = self._clock.now_ms()
        for pid in self.store.patients():
            # An old store may hold a reading dated ahead (a device clock fault let
            # through): the twin is rebuilt without it, or it would freeze the twin.
            kept = self.store.recent(pid, HISTORY, now + MAX_SKEW_MS)
            self.twins.restore(PatientTwin.from_readings(pid, kept))
        for gateway, state in self.store.sessions().items():
            self._gateways.resume(gateway, state, self._clock.now_ms())

    def _on_message(self, message: Message) -> None:
        with self._metrics.cpu("cloud"):
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
                # The session as it was before this record, to put back if its commit
                # is abandoned: the replay window must not stay past an unstored record.
                before = self._gateways.save(gateway) if gateway in self.gateways else None
                try:
                    payload, _ = self._gateways.open(gateway, body, self._clock.now_ms())
                except NoSessionError:
                    frame = self._gateways.no_session(gateway, self._clock.now_ms())
                    if frame is not None:  # the gateway handshakes again
                        self._bus.publish(topics.gateway_down(gateway), frame, 1)
                    raise
                decoded = topics.decode_object(payload, "batch")
                batch, number = decoded.get("readings"), decoded.get("batch")
                if not isinstance(batch, list) or not 1 <= len(batch) <= MAX_BATCH:
                    raise DecodeError(f"a batch holds 1..{MAX_BATCH} readings")
                if number is not None and (type(number) is not int or number < 0):
                    raise DecodeError("a batch's number is not a non-negative integer")
                decrypted = time.perf_counter_ns()
            except DTHQError as exc:
                self._metrics.reject("cloud", exc)
                return
            try:
                self._apply(gateway, batch, number, message.received_ns, (decrypted - t0) / 1e9)
            except _Closed:
                if before is not None:
                    self._gateways.resume(gateway, before, self._clock.now_ms())
                raise

    def _apply(
        self,
        gateway: str,
        batch: list[object],
        number: int | None,
        received_ns: int,
        decrypt: float,
    ) -> None:
        m = self._metrics
        readings = []
        latest = self._clock.now_ms() + MAX_SKEW_MS
        for item in batch:
            try:
                reading = Reading.from_dict(item)
                if reading.ts > latest:
                    raise FutureError(
                        f"reading ts {reading.ts} is {reading.ts - latest + MAX_SKEW_MS} ms "
                        f"ahead of the cloud's clock; the allowed skew is {MAX_SKEW_MS} ms"
                    )
                readings.append(reading)
            except FutureError as exc:
                m.reject("cloud", exc)
                m.refuse(reading.pid, reading.ts)  # a device's reading the gateway let through
            except ReadingError as exc:
                m.reject("cloud", exc)
        readings.sort(key=lambda r: r.ts)  # the authenticated acquisition time
        t0 = time.perf_counter_ns()
        fresh = self._new(readings) if self.twin else readings
        t1 = time.perf_counter_ns()
        # The Bundle before any twin changes: a reading it refuses leaves the twins as
        # they were, so the reading is not taken for a duplicate when it comes again.
        bundle = self.sink.encode(fhir.bundle(fresh)) if fresh and self.fhir_bundles else None
        t2 = time.perf_counter_ns()
        with self._lock:  # the twins change under the lock the dashboard's snapshot takes
            alerts = self._update_twins(fresh) if self.twin else []
            # The answer (the batch's receipt, a changed watch list) is sealed now and
            # sent after the commit: the session's state commits with the readings, its
            # replay window past this record and its sequence past the answer's, so a
            # crash before the commit redelivers and one after refuses the replay and
            # never reuses a nonce.
            down, watched = self._answer(gateway, number)
        t3 = time.perf_counter_ns()
        state = (gateway, self._gateways.save(gateway))
        stored = self._put(fresh, state, bundle)
        if bundle is not None:
            self.sender.wake()
        if down is not None:
            self._bus.publish(topics.gateway_down(gateway), topics.frame(topics.RECORD, down), 1)
            self._metrics.sent_bytes("cloud", len(down) + 1)  # receipts and feedback
            if watched is not None:
                self.watched[gateway] = watched
        t4 = time.perf_counter_ns()
        twin_s, fhir_s, store_s = ((t1 - t0) + (t3 - t2)) / 1e9, (t2 - t1) / 1e9, (t4 - t3) / 1e9
        if stored < len(fresh):
            m.count("duplicated", len(fresh) - stored)
        for reading in fresh:
            trace = m.trace((reading.pid, reading.ts))
            trace.cloud_in_ns, trace.decrypt = received_ns, decrypt
            trace.twin, trace.fhir, trace.store = twin_s, fhir_s, store_s
            # The reading's own score, twin or not: the same readings count under every policy.
            score = news2.score(reading.hr, reading.spo2, reading.temp)
            trace.alert_relevant = score.total >= WATCH_TOTAL
            trace.done_ns = t4
            m.deliver((reading.pid, reading.ts))  # folded into the histograms, dropped
        for listener in self.listeners:
            listener(fresh, alerts)

    def _put(self, fresh: list[Reading], state: tuple[str, bytes], bundle: bytes | None) -> int:
        """Store the readings with the session's state and their Bundle, retrying a
        failing store with backoff until it commits (or the cloud closes: :class:`_Closed`)."""
        delay = RETRY_FIRST_S
        while True:
            try:
                now_ms = self._clock.now_ms()
                return self.store.put(
                    fresh, self.policy_tag, session=state, bundle=bundle, now_ms=now_ms
                )
            except (sqlite3.Error, StoreError) as exc:
                self._metrics.fail(store_outcome(exc))
            if self._stop.wait(delay):
                raise _Closed
            delay = min(2 * delay, RETRY_MAX_S)

    def _new(self, readings: list[Reading]) -> list[Reading]:
        """The readings no twin holds yet (nor an earlier one of this batch): the others
        are redeliveries or resends, counted, changing nothing."""
        fresh, seen = [], set()
        for reading in readings:
            twin = self.twins.get(reading.pid)
            key = (reading.pid, reading.ts)
            if key in seen or (twin is not None and twin.holds(reading.ts)):
                self._metrics.count("duplicated")
                continue
            seen.add(key)
            fresh.append(reading)
        return fresh

    def _update_twins(self, fresh: list[Reading]) -> list[Alert]:
        """Each new reading applied to its patient's twin: the alerts it raised."""
        alerts = []
        for reading in fresh:
            alert = self.twins.apply(reading)
            if alert:
                alerts.append(alert)
                self._metrics.alert(alert.pid, alert.ts, alert.reason)
        watching, changed = self._watching, False
        for pid in {r.pid for r in fresh}:
            score = self.twins[pid].score
            now = score is not None and score.total >= WATCH_TOTAL
            if now != (pid in watching):
                changed = True
                (watching.add if now else watching.discard)(pid)
        if changed:
            self._watch_list = frozenset(watching)
        return alerts

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
                        "spark": [r.hr for r in t.recent(history)],
                        "alerts": [{"ts": a.ts, "reason": a.reason} for a in t.alerts[-5:]],
                        "watched": score.total >= WATCH_TOTAL,
                    }
                )
            return out

    def _answer(
        self, gateway: str, number: int | None
    ) -> tuple[bytes | None, frozenset[str] | None]:
        """The record that settles batch ``number`` and carries the watch list if it
        changed (the adaptive policy's input), sealed; (None, None) if there is nothing
        to say."""
        body: dict[str, object] = {}
        if number is not None:
            body["settled"] = number
        watched = None
        if self.twin:
            now_watched = self._watch_list
            if now_watched != self.watched.get(gateway, frozenset()):
                body["watch"], watched = sorted(now_watched), now_watched
        if not body:
            return None, None
        with self._gateways.lock:
            record = self._gateways.sessions[gateway].seal(
                topics.encode(body), self._clock.now_ms()
            )
        return record, watched
