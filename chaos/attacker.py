"""Hostile flights on every pipeline topic: an attacker with its own broker connection
(MQTT has no ACLs here, so anyone may publish anywhere). For each frame it sees (a
flight, CONFIRM, NO_SESSION or a record, on any party's up or down topic) it publishes,
on the same topic: two bytes of garbage, the frame truncated, the frame replayed, and a
forgery (random bytes behind the same frame type); and on the reverse topic the frame
as it was (out of order). At most ``per_second`` injections, so it attacks the
handshakes, not the machine."""

from __future__ import annotations

import hashlib
import os
import threading
from collections import Counter, deque

from dthq.pipeline import topics
from dthq.transport.bus import Message
from dthq.transport.mqtt import MQTTBus

# Handshake frames, and records (readings, batches, receipts): a replayed or forged
# receipt must not make a party forget a reading.
ATTACKED = {topics.FLIGHT, topics.CONFIRM, topics.NO_SESSION, topics.RECORD}
KINDS = ("garbage", "truncated", "replayed", "forged", "reversed")


def reverse(topic: str) -> str:
    head, _, direction = topic.rpartition("/")
    return f"{head}/{'down' if direction == 'up' else 'up'}"


class Attacker:
    def __init__(self, url: str, *, protocol: int | None, per_second: float = 50.0) -> None:
        self.injected: Counter[str] = Counter()
        self._bus = MQTTBus(url, f"dthq-chaos-attacker-{os.urandom(3).hex()}", protocol=protocol)
        self._interval = 1 / per_second
        self._queue: deque[tuple[str, bytes, str]] = deque(maxlen=1000)
        self._sent: deque[bytes] = deque(maxlen=4096)  # digests of what it injected
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._inject, name="attacker", daemon=True)
        self._bus.subscribe(f"{topics.PREFIX}/+/+/+", self._saw, qos=0)
        self._thread.start()

    def _saw(self, message: Message) -> None:
        frame, topic = message.payload, message.topic
        if not frame or frame[0] not in ATTACKED or self._ours(frame):
            return
        self._queue.extend(
            [
                (topic, os.urandom(2), "garbage"),
                (topic, frame[: max(1, len(frame) // 2)], "truncated"),
                (topic, frame, "replayed"),
                (topic, frame[:1] + os.urandom(max(1, len(frame) - 1)), "forged"),
                (reverse(topic), frame, "reversed"),
            ]
        )

    def _ours(self, frame: bytes) -> bool:
        # Its own injections come back to it: reacting to them would feed on itself.
        return hashlib.sha256(frame).digest() in self._sent

    def _inject(self) -> None:
        while not self._stop.wait(self._interval):
            if self._queue:
                topic, payload, kind = self._queue.popleft()
                self._sent.append(hashlib.sha256(payload).digest())
                # QoS 1, as a genuine party publishes: nothing refuses it for its QoS alone
                if self._bus.publish(topic, payload, 1):
                    self.injected[kind] += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._bus.close()
