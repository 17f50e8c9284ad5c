"""Failover on a cluster, measured: a QoS 1 stream with a persistent subscriber runs,
kills and restarts included, while each node is killed with ``kill -9`` in turn (and
started again before the next, so a quorum stays). For each kill: how long each client
that was on the node took to be connected to another (as its bus counts its time
disconnected), the messages the broker acknowledged in that kill's window that never
arrived, and the duplicates that arrived in it and were removed by sequence number
(QoS 1 is at least once)."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from contextlib import closing
from typing import Protocol

from dthq.errors import RunAborted
from dthq.harness.results import FailoverRun, NodeKill
from dthq.transport.bus import Message
from dthq.transport.cluster_layout import Node
from dthq.transport.mqtt import MQTT_311, MQTTBus

RECONNECT_BOUND_S = 10.0  # a client not connected again within this aborts the run
SETTLE_S = 60.0  # the longest wait at the end for the acknowledged messages to arrive


class Cluster(Protocol):
    url: str
    version: str

    @property
    def nodes(self) -> tuple[Node, ...]: ...

    def kill(self, index: int) -> None: ...

    def restart(self, index: int) -> None: ...


class _Stream:
    """The subscriber and the publisher (a thread publishing at a steady rate from
    :meth:`start` to :meth:`stop`, kills and restarts included), and what each sequence
    number did. ``window`` is the kill whose window it is now: a duplicate counts in the
    window it arrived in."""

    def __init__(self, url: str, rate: float) -> None:
        tag = os.urandom(3).hex()
        self.topic = f"dthq/v1/failover/{tag}"
        self.rate = rate
        self.acked: set[int] = set()
        self.received: Counter[int] = Counter()
        self.duplicates: Counter[int] = Counter()  # window -> duplicates that arrived in it
        self.window = 0
        self.sent = 0
        self.elapsed_s = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._publish, name="failover-publisher")
        self.sub = MQTTBus(url, f"failover-{tag}-sub", persistent=True, protocol=MQTT_311)
        self.sub.subscribe(self.topic, self._got, qos=1)  # returns with the SUBACK: bound
        self.pub = MQTTBus(url, f"failover-{tag}-pub", persistent=True, protocol=MQTT_311)

    def _got(self, message: Message) -> None:
        seq = int(message.payload)
        with self._lock:
            if self.received[seq]:
                self.duplicates[self.window] += 1
            self.received[seq] += 1

    def _taken(self, seq: int) -> None:
        with self._lock:
            self.acked.add(seq)

    def _publish(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            seq = self.sent
            self.pub.publish(self.topic, b"%d" % seq, 1, on_taken=lambda s=seq: self._taken(s))
            self.sent += 1
            self._stop.wait(max(0.0, start + self.sent / self.rate - time.monotonic()))
        self.elapsed_s = time.monotonic() - start

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def on(self, port: int) -> list[MQTTBus]:
        return [b for b in (self.sub, self.pub) if b.port == port]


def _back(buses: list[MQTTBus], before: dict[str, tuple[int, float]]) -> tuple[float, ...]:
    """Each bus's seconds disconnected since ``before``, once it dropped and is back."""
    out = []
    deadline = time.monotonic() + RECONNECT_BOUND_S
    for bus in buses:
        drops, down_ms = before[bus.client_id]
        while bus.stats.disconnects <= drops or not bus.connected:
            if time.monotonic() > deadline:
                raise RunAborted(
                    f"{bus.client_id} was not connected again in {RECONNECT_BOUND_S:g} s"
                )
            time.sleep(0.01)
        out.append((bus.stats.down_ms - down_ms) / 1000)
    return tuple(out)


def measure(cluster: Cluster, *, rate: float = 100.0, window_s: float = 2.0) -> FailoverRun:
    """Each node of ``cluster`` killed in turn while a stream runs at ``rate`` messages/s:
    ``window_s`` of it before the first kill and after each node is back. A kill's
    window runs from the kill (the first: from the stream's start) to the next kill (the
    last: to the end); its lost messages are those published in it."""
    stream = _Stream(cluster.url, rate)
    windows: list[tuple[str, int, tuple[float, ...], float]] = []  # node, first seq, back, up
    with closing(stream.sub), closing(stream.pub):
        stream.start()
        try:
            time.sleep(window_s)
            for i, node in enumerate(cluster.nodes):
                victims = stream.on(node.mqtt)
                before = {b.client_id: (b.stats.disconnects, b.stats.down_ms) for b in victims}
                stream.window = i
                first = 0 if i == 0 else stream.sent
                cluster.kill(node.index)
                back = _back(victims, before)
                started = time.monotonic()
                cluster.restart(node.index)
                windows.append((node.name, first, back, time.monotonic() - started))
                time.sleep(window_s)
        finally:
            stream.stop()
        deadline = time.monotonic() + SETTLE_S
        while not stream.acked <= set(stream.received) and time.monotonic() < deadline:
            time.sleep(0.1)
    kills = []
    for i, (name, first, back, up) in enumerate(windows):
        end = windows[i + 1][1] if i + 1 < len(windows) else stream.sent
        seqs = range(first, end)
        kills.append(
            NodeKill(
                node=name,
                clients_moved=len(back),
                reconnect_s=back,
                restart_s=up,
                acknowledged=sum(1 for s in seqs if s in stream.acked),
                lost=sum(1 for s in seqs if s in stream.acked and s not in stream.received),
                duplicates_removed=stream.duplicates[i],
            )
        )
    return FailoverRun(
        broker=cluster.version,
        nodes=len(cluster.nodes),
        rate_per_s=round(stream.sent / stream.elapsed_s, 1) if stream.elapsed_s else 0.0,
        window_s=window_s,
        sent=stream.sent,
        acknowledged=len(stream.acked),
        lost=len(stream.acked - set(stream.received)),
        duplicates_removed=sum(stream.duplicates.values()),
        kills=tuple(kills),
    )
