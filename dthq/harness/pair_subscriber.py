"""The bare paho pair's subscriber: subscribes, prints "ready", counts every message
by its sequence number (first arrivals, duplicates) with each first arrival's latency
from its send time; reads the number sent from stdin, waits up to ``--drain`` s for
them all, and prints {"unique": N, "duplicated": N, "p50_ms": ..., "p99_ms": ...}."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import Any

from dthq.harness.pair import HEADER, READY, connect, wait_until
from dthq.harness.results import quantile
from dthq.transport.mqtt import stop_loop


class Counter:
    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.duplicated = 0
        self.latencies_ns: list[int] = []
        self.lock = threading.Lock()

    def on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        now = time.perf_counter_ns()
        seq, sent_ns = HEADER.unpack_from(message.payload)
        with self.lock:
            if seq in self.seen:
                self.duplicated += 1
                return
            self.seen.add(seq)
            self.latencies_ns.append(now - sent_ns)

    def summary(self) -> dict[str, Any]:
        with self.lock:
            ms = [n / 1e6 for n in self.latencies_ns]
            return {
                "unique": len(self.seen),
                "duplicated": self.duplicated,
                "p50_ms": quantile(ms, 0.5) if ms else None,
                "p99_ms": quantile(ms, 0.99) if ms else None,
                "max_ms": max(ms) if ms else None,
            }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dthq.harness.pair_subscriber")
    parser.add_argument("--url", required=True)
    parser.add_argument("--protocol", type=int, choices=(4, 5), required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--qos", type=int, choices=(0, 1, 2), default=1)
    parser.add_argument("--drain", type=float, default=2.0)
    args = parser.parse_args(argv)
    counter = Counter()
    client = connect(args.url, args.protocol, f"dthq-pair-sub-{os.urandom(3).hex()}")
    client.on_message = counter.on_message
    subscribed = threading.Event()
    client.on_subscribe = lambda *_args: subscribed.set()
    client.subscribe(args.topic, args.qos)
    if not subscribed.wait(10):
        sys.exit("no SUBACK in 10 s")
    print(READY, flush=True)
    line = sys.stdin.readline()
    expected = int(line) if line.strip() else 0
    wait_until(lambda: len(counter.seen) >= expected, args.drain)
    client.disconnect()
    stop_loop(client)
    print(json.dumps(counter.summary()), flush=True)


if __name__ == "__main__":
    main()
