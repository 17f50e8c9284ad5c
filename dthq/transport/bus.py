"""The publish/subscribe interface the pipeline runs on, and its in-memory form.

The device, the edge gateway and the cloud twin talk only through a :class:`Bus`:
``publish`` bytes to a topic, ``subscribe`` a handler to a pattern with MQTT wildcards.
:class:`MemoryBus` delivers in process (one dispatcher thread, in order, like a broker
with no network); :class:`~dthq.transport.mqtt.MQTTBus` goes through a real broker.
A handler runs on the bus's delivery thread; for QoS 1 the message is acknowledged
only after the handler returns, so a consumer that commits inside its handler and
dies before returning gets the message again.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from dthq.errors import DTHQError, UnsupportedError

QOS_LEVELS = (0, 1)
BUSES = ("mqtt", "memory")  # what a pipeline's parties may talk over: MQTTBus, MemoryBus
# Messages the memory bus holds undelivered before a publisher waits (as a broker's
# queue fills); a handler's own publishes never wait (the dispatcher would wait on itself).
MAX_QUEUED = 10_000


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    received_ns: int  # time.perf_counter_ns() when the bus took it off the wire


Handler = Callable[[Message], None]


class BusError(DTHQError):
    """The bus cannot do what was asked (no broker at the URL, refused, closed)."""


@dataclass
class LinkStats:
    """What a connection went through: the pipeline reports these as the gap."""

    connects: int = 0
    disconnects: int = 0
    down_ms: float = 0.0  # total time disconnected after the first connect
    dropped: int = 0  # QoS 0 publishes refused while disconnected
    handler_errors: list[str] = field(default_factory=list)


class Bus(Protocol):
    name: str
    stats: LinkStats

    def subscribe(self, pattern: str, handler: Handler, qos: int = 1) -> None: ...

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> bool:
        """Hand a message to the bus; False when it was dropped (QoS 0, disconnected)."""
        ...

    def close(self) -> None: ...


def check_qos(qos: int) -> int:
    if qos not in QOS_LEVELS:
        raise UnsupportedError(f"QoS {qos} is not supported; choose 0 or 1")
    return qos


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT topic filter matching (``+`` one level, ``#`` the rest); an MQTT 5 shared
    subscription, ``$share/GROUP/FILTER``, matches what its filter matches."""
    if pattern.startswith("$share/"):
        pattern = pattern.split("/", 2)[2] if pattern.count("/") >= 2 else ""
    want, have = pattern.split("/"), topic.split("/")
    for i, part in enumerate(want):
        if part == "#":
            return True
        if i >= len(have) or (part != "+" and part != have[i]):
            return False
    return len(want) == len(have)


class MemoryBus:
    """In-process delivery on one thread, in publish order, to every matching handler."""

    name = "memory"

    def __init__(self) -> None:
        self.stats = LinkStats(connects=1)
        self._subs: list[tuple[str, Handler, int]] = []
        self._lock = threading.Lock()
        # Messages (and whether each took room), and events the dispatcher sets when it
        # reaches them (drain).
        self._queue: queue.SimpleQueue[tuple[Message, bool] | threading.Event | None] = (
            queue.SimpleQueue()
        )
        self._room = threading.Semaphore(MAX_QUEUED)
        self._thread = threading.Thread(target=self._deliver, name="memory-bus", daemon=True)
        self._thread.start()
        self._closed = False

    def subscribe(self, pattern: str, handler: Handler, qos: int = 1) -> None:
        with self._lock:
            self._subs.append((pattern, handler, check_qos(qos)))

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> bool:
        check_qos(qos)
        if self._closed:
            raise BusError("the bus is closed")
        waits = threading.current_thread() is not self._thread
        if waits:
            self._room.acquire()
        self._queue.put((Message(topic, bytes(payload), qos, time.perf_counter_ns()), waits))
        return True

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until everything published so far has been handled."""
        done = threading.Event()
        self._queue.put(done)
        if not done.wait(timeout):
            raise BusError(f"the memory bus did not drain in {timeout} s")

    def close(self) -> None:
        """Stop delivering, as a broker going away would: what is still queued is
        dropped, and the handler running now finishes before this returns (so what the
        handlers use, a store say, may be closed next)."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
        if threading.current_thread() is not self._thread:
            try:
                self._thread.join()
            except KeyboardInterrupt:  # finish stopping first, then let it through
                self._thread.join()
                raise

    def _deliver(self) -> None:
        while (item := self._queue.get()) is not None:
            if isinstance(item, threading.Event):
                item.set()
                continue
            message, took_room = item
            if took_room:
                self._room.release()
            if self._closed:
                continue  # closing: drop the rest on the way to the end marker
            with self._lock:
                targets = [h for p, h, _ in self._subs if topic_matches(p, message.topic)]
            for handler in targets:
                try:
                    handler(message)
                except Exception as exc:  # one bad handler must not stop delivery
                    self.stats.handler_errors.append(f"{message.topic}: {exc!r}")
