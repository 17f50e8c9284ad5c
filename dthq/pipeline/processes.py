"""A ``processes=True`` pipeline run: the broker, the cloud, the gateway and the devices
(the load generator: ``device_processes`` processes) each a separate OS process, as a
deployment runs them, each party built by the code the in-process run uses
(:mod:`dthq.pipeline.parties`) and driven by :mod:`dthq.pipeline.party`.

The run, in order: provision the registry into a 0600 file; start the broker (a child,
Mosquitto or the embedded amqtt; under the TLS schemes this run's Mosquitto with its
TLS listener, a certificate per party and the ACL); start the children at once (their
imports overlap), then bring them up in order, cloud, gateway, devices (handshakes
done); send the load from one start time; drain; ask each to finish and write its
export; merge the exports (:mod:`dthq.pipeline.metrics_export`) and sum up with the same
``summary()``.

The drain: the devices report what they sent, the cloud what it delivered and refused
and its FHIR outbox's pending bundles, the gateway what it refused; the run is settled
when delivered + refused reach sent and nothing is pending, or after the batch window
plus ``drain_s``. (A reading refused twice, resent, counts twice here and may end the
wait early; the summary's counts come from the merge, which counts it once.)

CPU: each party's process CPU (user + system, psutil), from the first reading sent until
the drain ends (the work on the run's readings, not the start-up and handshakes), in
``PipelineRun.cpu_s`` as "broker", "gateway", "cloud" and
:data:`~dthq.harness.results.LOAD_GENERATOR`. An external broker's CPU is not seen.
Over the same window, Mosquitto's socket bytes (``/proc/<pid>/io`` rchar + wchar: it
reads and writes nothing else once started; TCP/IP headers not counted) go to
``PipelineRun.broker_bytes`` (amqtt's go uncounted: asyncio's recv()/send() are not in
those counters).

Pinning (``pin``, recorded in the run), over the cores this process may use: "none"
leaves placement to the OS; "split" puts the load generator on a core of its own (the
first, where CPU 0's interrupts land) and the broker, gateway and cloud on the others,
so the generator never takes the system's CPU and the load a run holds is what the
system's cores hold. On a 2-core machine that is one core for the system under test and
one for the load: the bench's choice (fairer than none, where the generator, about as
busy as the system, competes with it for both cores).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from dthq.harness.placement import placement
from dthq.harness.results import LOAD_GENERATOR, PipelineRun
from dthq.pipeline import tls_setup
from dthq.pipeline.child import ANSWER_S, Child, PartyFailed
from dthq.pipeline.cpu import CPUSampler, io_bytes
from dthq.pipeline.gateway import policy_named
from dthq.pipeline.metrics_export import Export, merge
from dthq.pipeline.parties import Progress
from dthq.pipeline.party import encode_config
from dthq.pipeline.run import EMBEDDED, SimConfig, provision
from dthq.transport.brokers import MosquittoBroker
from dthq.transport.mqtt import redacted
from dthq.transport.tls import TLSMaterial

START_S = 90.0  # the longest wait for a party to come up (devices: all handshakes)
POLL_S = 0.05  # the drain's polling interval (each poll costs the parties a little)


def _slices(patients: int, k: int) -> list[tuple[int, int]]:
    """(first, count) of each devices process: as even as they go."""
    base, extra = divmod(patients, k)
    out, first = [], 0
    for i in range(k):
        n = base + (1 if i < extra else 0)
        out.append((first, n))
        first += n
    return out


def simulate_in_processes(config: SimConfig, progress: Progress | None = None) -> PipelineRun:
    """One ``processes=True`` run (see the module's docstring)."""
    with ExitStack() as stack:
        return _Run(config, stack).run(progress)


class _Run:
    def __init__(self, config: SimConfig, stack: ExitStack) -> None:
        self.c, self.stack = config, stack
        self.dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dthq-procs-")))
        self.children: list[Child] = []
        self.cpu = CPUSampler()
        self.system_cores, self.load_cores = placement(config.pin)
        self.registry = provision(config.patients)
        self.tls: TLSMaterial | None = None
        self.broker_pid: int | None = None  # the broker's process, when it is a child

    def _kill_all(self) -> None:
        finished = all(c.finished for c in self.children)
        for child in reversed(self.children):
            child.end(5.0 if finished else 0.0)

    def _broker(self) -> tuple[str, str, int]:
        """(URL, name, protocol: 0 to probe), its process added to the CPU sampler; under
        the TLS schemes this run's mosquitto with its TLS listener, certificates and ACL."""
        c = self.c
        if c.broker is not None:
            return c.broker, redacted(c.broker), 0  # a results file names no password
        if c.scheme != "dthq":  # the material outlives the broker (stack order)
            self.tls = self.stack.enter_context(tls_setup.material(self.registry))
            acl = tls_setup.acl(self.registry)
            broker: Any = self.stack.enter_context(MosquittoBroker(tls=self.tls, acl=acl))
        else:
            broker = self.stack.enter_context(EMBEDDED[c.embedded]())
        pid = broker.pid
        # Socket bytes from /proc are read()/write() bytes: Mosquitto moves its sockets'
        # bytes so, amqtt's asyncio with recv()/send(), which /proc/<pid>/io leaves out.
        self.broker_pid = pid if isinstance(broker, MosquittoBroker) else None
        if self.system_cores is not None:
            os.sched_setaffinity(pid, self.system_cores)
        self.cpu.add("broker", pid)
        return broker.url, broker.version, broker.protocol

    def _spawn(self, role: str, name: str, slice_no: int = 0) -> Child:
        argv = [
            sys.executable, "-m", "dthq.pipeline.party", role,
            "--run", str(self.dir / "run.json"), "--export", str(self.dir / f"{name}.json"),
            "--slice", str(slice_no), "--parent", str(os.getpid()),
        ]  # fmt: skip
        child = Child(name, argv, self.dir / f"{name}.log")
        self.children.append(child)
        self.cpu.add(LOAD_GENERATOR if role == "devices" else role, child.proc.pid)
        return child

    def _write_run(self, url: str, protocol: int) -> list[tuple[int, int]]:
        c = self.c
        registry = self.dir / "registry.json"
        self.registry.save(registry)  # 0600
        slices = _slices(c.patients, c.device_processes)
        cpus: dict[str, list[int]] = {}
        if self.system_cores is not None and self.load_cores is not None:
            cpus = {
                "cloud": sorted(self.system_cores),
                "gateway": sorted(self.system_cores),
                "devices": sorted(self.load_cores),
            }
        # The cloud's store, unless one is given, in this run's own directory: removed
        # with it however the cloud ends (a killed party cleans nothing up).
        config = c if c.store is not None else dataclasses.replace(c, store=self.dir / "twin.db")
        run = {
            "config": encode_config(config),
            "registry": str(registry),
            "broker": url,
            "protocol": protocol,
            "tag": os.urandom(3).hex(),  # client ids of this run: no stale broker sessions
            "tls": None if self.tls is None else str(self.tls.directory),
            "slices": slices,
            "cpus": cpus,
        }
        path = self.dir / "run.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the store's secret
        with os.fdopen(fd, "w") as f:
            json.dump(run, f)
        return slices

    def run(self, progress: Progress | None) -> PipelineRun:
        url, broker_name, protocol = self._broker()
        self.stack.callback(self._kill_all)  # on every way out, before the broker stops
        slices = self._write_run(url, protocol)
        cloud = self._spawn("cloud", "cloud")
        gateway = self._spawn("gateway", "gateway")
        devices = [self._spawn("devices", f"devices-{k}", k) for k in range(len(slices))]
        cloud.ask("start", START_S)
        gateway.ask("start", START_S)
        for d in devices:
            d.send("start")
        for d in devices:
            d.answer("start", START_S)
        before = self.cpu.totals()
        io_before = self._broker_io()
        start = time.monotonic() + 0.1  # time for every devices process to hear it
        for d in devices:
            d.send(f"go {start!r}")
        sent = self._sending(devices, (cloud, gateway), start, progress)
        self._drain(cloud, gateway, sent)
        after = self.cpu.totals()
        io_after = self._broker_io()
        broker_bytes = None if io_before is None or io_after is None else io_after - io_before
        if progress:
            progress(1.0, sent)
        for d in devices:  # the load first, then downstream, each after the one before
            d.send("finish")
        exports = [self._export(d) for d in devices]
        for party in (gateway, cloud):
            party.send("finish")
            exports.append(self._export(party))
        cpu = {role: after[role] - before.get(role, 0.0) for role in after}
        return self._summary(exports, broker_name, cpu, broker_bytes)

    def _sending(
        self,
        devices: list[Child],
        downstream: tuple[Child, ...],
        start: float,
        progress: Progress | None,
    ) -> int:
        """Wait for the devices to send the load (the others watched: one that dies ends
        the run); what they sent."""
        c = self.c
        deadline = start + c.duration_s + START_S
        sent: dict[int, int] = {}
        while True:
            for party in downstream:
                party.check()
            for k, d in enumerate(devices):
                if k not in sent and (done := d.poll("go")) is not None:
                    sent[k] = done["sent"]
            if len(sent) == len(devices):
                return sum(sent.values())
            if time.monotonic() > deadline:
                raise PartyFailed(f"the devices did not finish sending in {START_S:g} s")
            if progress:
                so_far = sum(
                    sent[k] if k in sent else d.ask("status")["sent"] for k, d in enumerate(devices)
                )
                progress(min(1.0, (time.monotonic() - start) / c.duration_s), so_far)
            time.sleep(0.25 if progress else POLL_S)

    def _drain(self, cloud: Child, gateway: Child, sent: int) -> bool:
        c = self.c
        deadline = time.monotonic() + c.drain_s + policy_named(c.policy).window_ms / 1000
        while time.monotonic() < deadline:
            at_cloud, at_gateway = cloud.ask("status"), gateway.ask("status")
            settled = at_cloud["delivered"] + at_cloud["refused"] + at_gateway["refused"]
            if settled >= sent and at_cloud.get("pending", 0) == 0:
                return True
            time.sleep(POLL_S)
        return False

    def _export(self, child: Child) -> Export:
        child.answer("finish", ANSWER_S)  # once its export is written; it exits after
        child.finished = True
        try:
            return json.loads((self.dir / f"{child.name}.json").read_text())
        except (OSError, ValueError) as exc:
            raise PartyFailed(f"the {child.name} wrote no export ({exc})") from None

    def _broker_io(self) -> int | None:
        """The broker's socket bytes so far (None: no broker process of ours, or gone)."""
        if self.broker_pid is None:
            return None
        try:
            return io_bytes(self.broker_pid)
        except (OSError, KeyError, ValueError):
            return None

    def _summary(
        self, exports: list[Export], broker: str, cpu: dict[str, float], broker_bytes: int | None
    ) -> PipelineRun:
        c = self.c
        m = merge(exports)
        m.cpu_s = Counter(cpu)
        if m.counts["stamps dropped"]:  # past the bound: the figures miss those readings
            m.fail("stamps dropped (past the run's bound)", m.counts["stamps dropped"])
        cloud = exports[-1]
        protocol = next((e["protocol"] for e in exports if e.get("protocol")), "")
        return m.summary(
            fhir_unsent=cloud.get("fhir_unsent", 0),
            fhir_oldest_unsent_s=cloud.get("fhir_oldest_unsent_s"),
            broker=broker,
            protocol=protocol,
            reconnects=sum(e["reconnects"] for e in exports),
            down_ms=max(e["down_ms"] for e in exports),
            broker_bytes=broker_bytes,
            **c.run_fields(),
        )
