"""The publish/subscribe interface the pipeline runs on, and its in-memory form.

The device, the edge gateway and the cloud twin talk only through a :class:`Bus`:
``publish`` bytes to a topic, ``subscribe`` a handler to a pattern with MQTT wildcards.
:class:`MemoryBus` delivers in process (one dispatcher thread, in order, like a broker
with no network); :class:`~dthq.transport.mqtt.MQTTBus` goes through a real broker.
A handler runs on the bus's delivery thread; for QoS 1 the message is acknowledged
only after the handler returns, so a consumer that commits inside its handler and
dies before returning gets the message again.

A subscription made with ``manual_ack=True`` acknowledges nothing by itself: its
handler's :class:`Message` carries :meth:`Message.ack`, to call once the message is
durably handled, possibly later and from another thread (calling it again does
nothing). A handler that raises has its message acknowledged by the bus (a message
that always fails must not hold the broker's in-flight window for ever). A message
matching several subscriptions is acknowledged once every manual handler acked it and
every other handler returned.
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


class Ack:
    """One handler's acknowledgement of one delivery: once only, from any thread."""

    __slots__ = ("_delivery", "_lock", "done")

    def __init__(self, delivery: Delivery) -> None:
        self._delivery = delivery
        self._lock = threading.Lock()
        self.done = False

    def __call__(self) -> None:
        with self._lock:
            if self.done:
                return
            self.done = True
        self._delivery.settle()


class Delivery:
    """A message's acknowledgement, owed by each manual-ack handler it went to and by
    the bus once the handlers returned: the last to settle sends it (``send``)."""

    __slots__ = ("_lock", "_owed", "_send")

    def __init__(self, send: Callable[[], None], manual: int) -> None:
        self._send = send
        self._owed = manual + 1
        self._lock = threading.Lock()

    def settle(self) -> None:
        with self._lock:
            self._owed -= 1
            last = self._owed == 0
        if last:
            self._send()


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    received_ns: int  # time.perf_counter_ns() when the bus took it off the wire
    acker: Ack | None = field(default=None, repr=False, compare=False)  # manual ack only

    def ack(self) -> None:
        """The message is durably handled: let the broker forget it (manual-ack
        subscriptions; a no-op on the others, whose bus acks after the handler)."""
        if self.acker is not None:
            self.acker()


Handler = Callable[[Message], None]
Taken = Callable[[], None]  # called once the bus (the broker, at QoS 1) has a message
Subscription = tuple[str, Handler, int, bool]  # pattern, handler, QoS, manual ack


def dispatch(
    message: Message,
    subs: list[Subscription],
    send_ack: Callable[[], None],
    errors: list[str],
) -> None:
    """Run every matching handler on ``message``; acknowledge (``send_ack``) once the
    manual ones acked and the others returned. A handler that raises is counted in
    ``errors`` and its share of the acknowledgement given (see the module's doc)."""
    targets = [(h, manual) for p, h, _, manual in subs if topic_matches(p, message.topic)]
    delivery = Delivery(send_ack, sum(manual for _, manual in targets))
    for handler, manual in targets:
        ack = Ack(delivery) if manual else None
        try:
            handler(Message(message.topic, message.payload, message.qos, message.received_ns, ack))
        except Exception as exc:  # one bad handler must not stop delivery
            errors.append(f"{message.topic}: {exc!r}")
            if ack is not None:
                ack()
    delivery.settle()


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

    def subscribe(
        self, pattern: str, handler: Handler, qos: int = 1, *, manual_ack: bool = False
    ) -> None: ...

    def publish(
        self, topic: str, payload: bytes, qos: int = 1, *, on_taken: Taken | None = None
    ) -> bool:
        """Hand a message to the bus; False when it was dropped (QoS 0, disconnected).
        ``on_taken`` is called once the bus has it (MQTT at QoS 1: the broker's PUBACK),
        possibly on another thread; never for a message that was dropped."""
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
    """In-process delivery on one thread, in publish order, to every matching handler.

    There is no broker and no redelivery: a message is "taken" (``on_taken``, called
    before ``publish`` returns) once it is queued, and an acknowledgement only settles
    the bus's count of messages handed to manual-ack handlers and not yet acked
    (:attr:`unacked`), which is what a test of a consumer's acks looks at."""

    name = "memory"
    handlers_may_block = True  # one delivery thread, no keepalive: its bound holds publishers

    def __init__(self) -> None:
        self.stats = LinkStats(connects=1)
        self._subs: list[Subscription] = []
        self._unacked = 0
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

    def subscribe(
        self, pattern: str, handler: Handler, qos: int = 1, *, manual_ack: bool = False
    ) -> None:
        with self._lock:
            self._subs.append((pattern, handler, check_qos(qos), manual_ack))

    @property
    def unacked(self) -> int:
        """Messages delivered to manual-ack handlers and not acknowledged yet."""
        with self._lock:
            return self._unacked

    def publish(
        self, topic: str, payload: bytes, qos: int = 1, *, on_taken: Taken | None = None
    ) -> bool:
        check_qos(qos)
        if self._closed:
            raise BusError("the bus is closed")
        waits = threading.current_thread() is not self._thread
        if waits:
            self._room.acquire()
        self._queue.put((Message(topic, bytes(payload), qos, time.perf_counter_ns()), waits))
        if on_taken is not None:
            on_taken()
        return True

    def publish_acked(self, topic: str, payload: bytes, qos: int, timeout: float) -> bool:
        """As :meth:`MQTTBus.publish_acked`: queued is taken, here."""
        return self.publish(topic, payload, qos)

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
                subs = list(self._subs)
                manual = any(m and topic_matches(p, message.topic) for p, _, _, m in subs)
                self._unacked += manual
            dispatch(message, subs, self._acked if manual else _nothing, self.stats.handler_errors)

    def _acked(self) -> None:
        with self._lock:
            self._unacked -= 1


def _nothing() -> None:
    pass
