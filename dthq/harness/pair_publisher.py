"""The bare paho pair's publisher: ``--rate`` x ``--seconds`` messages, each at its
fixed time (late rather than skipped when behind, so a publisher that falls behind takes
longer: ``elapsed_s``, from the first message's time to one period after the last one
went, is the window it actually took), each carrying its sequence number and send time;
then waits for the broker's acknowledgements and prints {"sent": N, "elapsed_s": ...}."""

from __future__ import annotations

import argparse
import json
import os
import threading
import time

from dthq.harness.pair import MIN_PAYLOAD, connect, payload, wait_until
from dthq.transport.mqtt import stop_loop


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dthq.harness.pair_publisher")
    parser.add_argument("--url", required=True)
    parser.add_argument("--protocol", type=int, choices=(4, 5), required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--qos", type=int, choices=(0, 1, 2), default=1)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--payload", type=int, required=True)
    parser.add_argument("--drain", type=float, default=2.0)
    args = parser.parse_args(argv)
    if args.payload < MIN_PAYLOAD or args.rate <= 0 or args.seconds <= 0:
        parser.error(f"--payload must be at least {MIN_PAYLOAD}; --rate and --seconds above 0")
    client = connect(args.url, args.protocol, f"dthq-pair-pub-{os.urandom(3).hex()}")
    acked = 0
    lock = threading.Lock()

    def on_publish(*_args: object) -> None:
        nonlocal acked
        with lock:
            acked += 1

    client.on_publish = on_publish
    period, total = 1 / args.rate, max(1, round(args.rate * args.seconds))
    start = time.perf_counter()
    sent = 0
    while sent < total:
        wait = start + sent * period - time.perf_counter()
        if wait > 0:
            time.sleep(min(wait, 0.05))
            continue
        client.publish(args.topic, payload(sent, time.perf_counter_ns(), args.payload), args.qos)
        sent += 1
    elapsed = time.perf_counter() - start + period
    settled = args.qos == 0 or wait_until(lambda: acked >= sent, args.drain)
    client.disconnect()
    stop_loop(client)
    print(json.dumps({"sent": sent, "elapsed_s": elapsed, "acked": acked, "settled": settled}))


if __name__ == "__main__":
    main()
