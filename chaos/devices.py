"""The suite's devices as their own process: ``python -m chaos.devices``. Each reading
generated and each receipt settling one are appended to a log the checker reads (one
line each, flushed at once: a SIGKILL loses at most the line being written):

    B                             this process started
    G <patient> <ts>              a reading generated (then sealed and published)
    S <patient> <ts> <at_ms>      its receipt came: the cloud has stored it

On SIGUSR1 the devices stop taking readings and go on resending what is unsettled (the
suite's settling, so that "everything settled" can happen); on SIGTERM: a JSON line on
stdout with each device's state and the counts.
"""

from __future__ import annotations

import argparse
import heapq
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from dthq.errors import DTHQError
from dthq.pipeline.clock import SYSTEM_CLOCK
from dthq.pipeline.device import Device
from dthq.pipeline.metrics import Metrics
from dthq.pipeline.provision import Registry
from dthq.transport.mqtt import MQTTBus

ESTABLISH_S = 120.0  # the longest wait for the first handshakes (the gateway may be down)


class Log:
    def __init__(self, stream: TextIO) -> None:
        self._stream, self._lock = stream, threading.Lock()

    def write(self, line: str) -> None:
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


def run(args: argparse.Namespace) -> dict[str, object]:
    registry = Registry.load(Path(args.registry))
    metrics = Metrics()
    bus = MQTTBus(args.broker, args.client_id, protocol=args.protocol or None)
    done, quiet = threading.Event(), threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    signal.signal(signal.SIGUSR1, lambda *_: quiet.set())
    with open(args.log, "a", encoding="ascii") as stream:
        log = Log(stream)
        log.write("B")  # a new process: what the last one kept unsettled is gone

        def settled(patient: str, stamps: list[int]) -> None:
            at = SYSTEM_CLOCK.now_ms()
            for ts in stamps:
                log.write(f"S {patient} {ts} {at}")

        devices = [
            Device(
                device_id,
                args.gateway,
                registry,
                bus,
                metrics,
                rate_hz=args.rate,
                seed=args.seed + i,
                on_generated=lambda patient, ts: log.write(f"G {patient} {ts}"),
                on_settled=settled,
                clock=SYSTEM_CLOCK,
            )
            for i, device_id in enumerate(registry.devices)
        ]
        for device in devices:
            device.handshake()
        for device in devices:
            device.wait_established(ESTABLISH_S)
        Path(args.ready).write_text("ready")
        period = 1 / args.rate
        start = time.monotonic()
        due = [(start + i * period / len(devices), i) for i in range(len(devices))]
        heapq.heapify(due)
        while not done.is_set():
            at, i = due[0]
            wait = at - time.monotonic()
            if wait > 0:
                done.wait(min(wait, 0.05))
                continue
            heapq.heapreplace(due, (at + period, i))
            device = devices[i]
            device.poll()
            try:
                if device.session is not None and not quiet.is_set():
                    device.tick()
            except DTHQError as exc:  # the bus went away for a moment: the next tick tries
                metrics.reject("device", exc)
        bus.close()
    return {
        "devices": {
            d.id: {
                "established": d.session is not None,
                "unsettled": len(d.unsettled),
                "dropped": d.unsettled.dropped,
            }
            for d in devices
        },
        "counts": dict(metrics.counts),
        "rejected": dict(metrics.rejected),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.devices", description=__doc__)
    parser.add_argument("--registry", required=True)
    parser.add_argument("--broker", required=True, help="mqtt://HOST:PORT")
    parser.add_argument("--protocol", type=int, default=0, help="4: MQTT 3.1.1, 5: MQTT 5")
    parser.add_argument("--gateway", default="gw-1")
    parser.add_argument("--rate", type=float, default=2.0, help="readings per second each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--client-id", default="dthq-chaos-devices")
    parser.add_argument("--log", required=True, help="the G/S lines, appended")
    parser.add_argument("--ready", required=True)
    args = parser.parse_args(argv)
    try:
        summary = run(args)
    except DTHQError as exc:
        print(f"chaos devices: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
