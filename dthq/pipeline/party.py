"""One party of a ``processes=True`` pipeline run, as its own process:
``python -m dthq.pipeline.party {cloud,gateway,devices} --run run.json --export out.json``.

run.json (mode 0600: it holds the store's secret) is the run's
:class:`~dthq.pipeline.run.SimConfig`, every field as it is (:func:`encode_config`), the
provisioned registry's file (0600 too), the broker's URL and protocol, the run's tag
(its client ids), the slices of the devices each devices process takes, and the cores
each party is pinned to. The party is built by :mod:`dthq.pipeline.parties`, the code
the in-process run builds it with.

The runner drives it over stdin, one command a line; each answer is one JSON line on
stdout, ``{"reply": <command>, ...}``:

    start      build the party and connect it (devices: their handshakes done)
    go T       devices: send the load from T (``time.monotonic``) for the duration
    status     what it sent, delivered, refused (the cloud: its FHIR outbox's pending)
    finish     stop, close, write the export (:mod:`dthq.pipeline.metrics_export`), exit

SIGTERM finishes it too (the export written, no answer). It dies with its parent
(PR_SET_PDEATHSIG, and stdin's end), so a runner that is killed leaves none behind.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import queue
import signal
import sys
import threading
from contextlib import ExitStack, closing
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dthq.errors import DTHQError, UnsupportedError
from dthq.pipeline.clock import SYSTEM_CLOCK
from dthq.pipeline.metrics_export import PartyMetrics, export, keep_for
from dthq.pipeline.parties import (
    GATEWAY,
    make_cloud,
    make_devices,
    make_gateway,
    open_store,
    send_load,
)
from dthq.pipeline.provision import CLOUD_ID, Registry
from dthq.transport.bus import Bus
from dthq.transport.mqtt import MQTTBus
from dthq.transport.tls import client_context_in

if TYPE_CHECKING:
    from dthq.pipeline.run import SimConfig

ROLES = ("cloud", "gateway", "devices")
PR_SET_PDEATHSIG = 1
ESTABLISH_S = 60.0  # the longest wait for a device's first handshake (the runner's: 90 s)


def encode_config(config: SimConfig) -> dict[str, Any]:
    """Every field of ``config``, JSON-ready: paths and bytes tagged, the rest as is."""
    out: dict[str, Any] = {}
    for f in fields(config):
        value = getattr(config, f.name)
        if isinstance(value, Path):
            value = {"path": str(value)}
        elif isinstance(value, bytes):
            value = {"hex": value.hex()}
        elif value is not None and not isinstance(value, str | int | float | bool):
            raise UnsupportedError(f"SimConfig.{f.name} ({type(value).__name__}) has no encoding")
        out[f.name] = value
    return out


def decode_config(data: dict[str, Any]) -> SimConfig:
    from dthq.pipeline.run import SimConfig

    def value(v: Any) -> Any:
        if isinstance(v, dict):
            return Path(v["path"]) if "path" in v else bytes.fromhex(v["hex"])
        return v

    return SimConfig(**{k: value(v) for k, v in data.items()})


def _die_with_parent(parent: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the prctl
        os._exit(1)


class _Party:
    def __init__(self, role: str, run: dict[str, Any], slice_no: int) -> None:
        self.role = role
        self.config = c = decode_config(run["config"])
        self.registry = Registry.load(Path(run["registry"]))
        self.url, self.protocol, self.tag = run["broker"], run["protocol"] or None, run["tag"]
        self.tls_dir = Path(run["tls"]) if run.get("tls") else None
        self.first, count = run["slices"][slice_no] if role == "devices" else (0, 0)
        self.count = count
        self.metrics = PartyMetrics(keep=keep_for(c.patients, c.rate_hz, c.duration_s))
        self.stack = ExitStack()
        self.buses: list[Bus] = []
        self.store: Any = None
        self.devices: list[Any] = []
        self.protocol_name = ""

    def bus(self, name: str, persistent: bool, identity: str) -> Bus:
        tls = None if self.tls_dir is None else client_context_in(self.tls_dir, identity)
        bus = self.stack.enter_context(
            closing(MQTTBus(self.url, name, persistent=persistent, protocol=self.protocol, tls=tls))
        )
        self.buses.append(bus)
        return bus

    def start(self) -> dict[str, Any]:
        c, m, s = self.config, self.metrics, self.stack
        if self.role == "cloud":
            self.store = open_store(c, s)  # first: closed after the bus's threads stop
            cloud = make_cloud(
                c, self.registry, self.bus(f"dthq-cloud-{self.tag}", True, CLOUD_ID), m, self.store,
                SYSTEM_CLOCK,
            )  # fmt: skip
            s.callback(cloud.close)
        elif self.role == "gateway":
            bus = self.bus(f"dthq-{GATEWAY}-{self.tag}", True, GATEWAY)
            assert isinstance(bus, MQTTBus)
            self.protocol_name = bus.protocol_name
            gateway = make_gateway(c, self.registry, bus, m, SYSTEM_CLOCK)
            s.callback(gateway.close)
            gateway.connect()
        else:
            indices = range(self.first, self.first + self.count)
            self.devices, _ = make_devices(
                c, self.registry, self.bus, m, SYSTEM_CLOCK, self.tag, indices
            )
            for device in self.devices:
                device.handshake()
            for device in self.devices:  # the start is not measured: time to back off
                device.wait_established(ESTABLISH_S)
        return {"pid": os.getpid()}

    def go(self, start: float, stop: threading.Event) -> dict[str, Any]:
        send_load(self.devices, self.config, SYSTEM_CLOCK, start, first=self.first, stop=stop)
        return {"sent": self.metrics.counts["sent"]}

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = self.metrics.status()
        if self.store is not None:
            out["pending"] = self.store.backlog().pending
        return out

    def finish(self, path: Path) -> None:
        extra: dict[str, Any] = {"protocol": self.protocol_name}
        if self.store is not None:
            backlog = self.store.backlog()
            oldest = backlog.oldest_ms
            extra["fhir_unsent"] = backlog.unsent
            extra["fhir_oldest_unsent_s"] = (
                None if oldest is None else (SYSTEM_CLOCK.now_ms() - oldest) / 1000
            )
        extra["reconnects"] = sum(b.stats.disconnects for b in self.buses)
        extra["down_ms"] = max((b.stats.down_ms for b in self.buses), default=0.0)
        self.stack.close()  # the party stops: what it still held is counted as it stood
        data = export(self.metrics, **extra)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)  # whole or absent: the runner never reads half an export


class _Replies:
    def __init__(self) -> None:
        self._lock = threading.Lock()

    def send(self, reply: str, **body: Any) -> None:
        with self._lock:
            sys.stdout.write(json.dumps({"reply": reply, **body}) + "\n")
            sys.stdout.flush()


def serve(args: argparse.Namespace) -> None:
    run = json.loads(Path(args.run).read_text())
    cpus = run.get("cpus", {}).get(args.role)
    if cpus:  # before any thread: every thread it starts inherits the placement
        os.sched_setaffinity(0, cpus)
    party = _Party(args.role, run, args.slice)
    replies, commands = _Replies(), queue.Queue[str]()
    finished, terminated = threading.Event(), threading.Event()
    # The handler only sets flags: the main thread may hold the queue's lock when it runs.
    signal.signal(signal.SIGTERM, lambda *_: (finished.set(), terminated.set()))

    def read() -> None:
        for line in sys.stdin:
            if line.strip() == "status":  # answered at once, even while it sends
                try:
                    replies.send("status", **party.status())
                except DTHQError as exc:
                    replies.send("status", error=str(exc))
            else:
                if line.strip() == "finish":
                    finished.set()
                commands.put(line.strip())
        finished.set()  # stdin closed: the runner is gone
        terminated.set()

    threading.Thread(target=read, name="party-commands", daemon=True).start()
    while True:
        try:
            line = commands.get(timeout=0.2)
        except queue.Empty:
            if not terminated.is_set():
                continue
            line = "finish quiet"
        command, *rest = line.split() or [""]
        if command == "start":
            replies.send("start", **party.start())
        elif command == "go":
            replies.send("go", **party.go(float(rest[0]), finished))
        elif command == "finish":
            party.finish(Path(args.export))
            if not rest:
                replies.send("finish")
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dthq.pipeline.party", description=__doc__)
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("--run", required=True, help="the run's file (0600)")
    parser.add_argument("--export", required=True, help="where the export goes at the end")
    parser.add_argument("--slice", type=int, default=0, help="devices: which slice of them")
    parser.add_argument("--parent", type=int, required=True, help="the runner's pid")
    args = parser.parse_args(argv)
    _die_with_parent(args.parent)
    try:
        serve(args)
    except DTHQError as exc:
        print(f"dthq party {args.role}: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
