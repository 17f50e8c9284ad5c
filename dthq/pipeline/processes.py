"""A ``processes=True`` pipeline run: the broker, the cloud, the gateway and the devices
(the load generator: ``device_processes`` processes) each a separate OS process, as a
deployment runs them, each party built by the code the in-process run uses
(:mod:`dthq.pipeline.parties`) and driven by :mod:`dthq.pipeline.party`.

The run, in order: provision the registry into a 0600 file; start the broker (a child
where the broker class makes one: Mosquitto; the embedded amqtt runs in this process
unless its class gives a ``pid``); start the children at once (their imports overlap),
then bring them up in order, cloud, gateway, devices (handshakes done); send the load
from one start time; drain; ask each to finish and write its export; merge the exports
(:mod:`dthq.pipeline.metrics_export`) and sum up with the same ``summary()``.

The drain: the devices report what they sent, the cloud what it delivered and refused
and its FHIR outbox's pending bundles, the gateway what it refused; the run is settled
when delivered + refused reach sent and nothing is pending, or after the batch window
plus ``drain_s``. (A reading refused twice, resent, counts twice here and may end the
wait early; the summary's counts come from the merge, which counts it once.)

CPU: each party's process CPU (user + system, psutil), from the first reading sent until
the drain ends (the work on the run's readings, not the start-up and handshakes), in
``PipelineRun.cpu_s`` as "broker", "gateway", "cloud" and
:data:`~dthq.harness.results.LOAD_GENERATOR`; a broker in this process is this process's
CPU (the broker and this runner's light polling). An external broker's CPU is not seen.

Pinning (``pin``, recorded in the run): "none" leaves placement to the OS; "split" puts
the load generator on a core of its own (the last this process may use) and the broker,
gateway and cloud on the others, so the generator never takes the system's CPU and the
load a run holds is what the system's cores hold. On a 2-core machine that is one core
for the system under test and one for the load: the bench's choice (fairer than none,
where the generator, as busy as the system, competes with it for both cores).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from dthq.errors import RunAborted, UnsupportedError
from dthq.harness.results import LOAD_GENERATOR, PipelineRun
from dthq.pipeline.cpu import CPUSampler
from dthq.pipeline.gateway import policy_named
from dthq.pipeline.metrics_export import Export, merge
from dthq.pipeline.parties import Progress
from dthq.pipeline.party import encode_config
from dthq.pipeline.run import EMBEDDED, SimConfig, provision

START_S = 90.0  # the longest wait for a party to come up (devices: all handshakes)
ANSWER_S = 30.0  # the longest wait for an answer to status or finish
POLL_S = 0.05  # the drain's polling interval (each poll costs the parties a little)


class PartyFailed(RunAborted):
    """A party's process did not start, did not answer, or died: the run aborted."""


def _last_line(log: Path) -> str:
    try:
        lines = log.read_bytes()[-4000:].decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else ""


class _Child:
    """One party's process, driven over its stdin, its answers read on a thread."""

    def __init__(self, name: str, argv: list[str], log: Path) -> None:
        self.name, self.log = name, log
        self._err = log.open("wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, env=env
        )
        self._answers: dict[str, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._ended = threading.Event()  # its output ended: it exited
        self.finished = False  # it wrote its export
        stdout = self.proc.stdout
        assert stdout is not None
        threading.Thread(target=self._read, args=(stdout,), daemon=True).start()

    def _queue(self, reply: str) -> queue.Queue[dict[str, Any]]:
        with self._lock:
            return self._answers.setdefault(reply, queue.Queue())

    def _read(self, stdout: IO[bytes]) -> None:
        for line in stdout:
            try:
                answer = json.loads(line)
            except ValueError:
                continue  # not an answer: a library that printed
            if isinstance(answer, dict) and "reply" in answer:
                self._queue(answer["reply"]).put(answer)
        self._ended.set()

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(command.encode() + b"\n")
            self.proc.stdin.flush()
        except OSError:
            raise self.failed() from None

    def poll(self, reply: str) -> dict[str, Any] | None:
        """Its answer ``reply`` if it came, else None; it died: :class:`PartyFailed`."""
        try:
            return self._queue(reply).get_nowait()
        except queue.Empty:
            if self._ended.is_set():
                raise self.failed() from None
            return None

    def answer(self, reply: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (got := self.poll(reply)) is None:
            if time.monotonic() > deadline:
                line = _last_line(self.log)
                raise PartyFailed(
                    f"the {self.name} did not answer {reply!r} in {timeout:g} s"
                    + (f" ({line})" if line else "")
                )
            self._ended.wait(0.01)
        return got

    def ask(self, command: str, timeout: float = ANSWER_S) -> dict[str, Any]:
        self.send(command)
        return self.answer(command.split()[0], timeout)

    def failed(self) -> PartyFailed:
        try:
            code = self.proc.wait(5)
        except subprocess.TimeoutExpired:
            code = None
        return PartyFailed(
            f"the {self.name} exited with {code}: {_last_line(self.log) or 'no output'}"
        )

    def end(self, grace: float) -> None:
        """Wait ``grace`` seconds for it to exit (it finished: its interpreter shuts
        down), then kill it."""
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        finally:
            self._err.close()


def _placement(pin: str) -> tuple[set[int] | None, set[int] | None]:
    """(the system's cores, the load generator's) for ``pin``; None: the OS places."""
    if pin == "none":
        return None, None
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise UnsupportedError(f"pin={pin!r} needs 2 cores; this process may use {len(cores)}")
    return set(cores[:-1]), {cores[-1]}


class _PinnedHere:
    """This process's threads on ``cores`` for the run (a broker running here), then
    back where they were."""

    def __init__(self, cores: set[int]) -> None:
        self._before = os.sched_getaffinity(0)
        self._cores = cores

    def _all(self, cores: set[int]) -> None:
        for tid in os.listdir("/proc/self/task"):
            with contextlib.suppress(OSError):  # a thread that ended meanwhile
                os.sched_setaffinity(int(tid), cores)

    def __enter__(self) -> _PinnedHere:
        self._all(self._cores)
        return self

    def __exit__(self, *_: object) -> None:
        self._all(self._before)


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
        self.children: list[_Child] = []
        stack.callback(self._kill_all)  # on every way out: no child left behind
        self.cpu = CPUSampler()
        self.system_cores, self.load_cores = _placement(config.pin)

    def _kill_all(self) -> None:
        finished = all(c.finished for c in self.children)
        for child in reversed(self.children):
            child.end(5.0 if finished else 0.0)

    def _broker(self) -> tuple[str, str, int]:
        """(URL, name, protocol: 0 to probe), its process added to the CPU sampler."""
        c = self.c
        if c.broker is not None:
            return c.broker, c.broker, 0
        broker = self.stack.enter_context(EMBEDDED[c.embedded]())
        pid = getattr(broker, "pid", None)
        if pid is None:  # the broker's threads run here
            pid = os.getpid()
            if self.system_cores is not None:
                self.stack.enter_context(_PinnedHere(self.system_cores))
        elif self.system_cores is not None:
            os.sched_setaffinity(pid, self.system_cores)
        self.cpu.add("broker", pid)
        return broker.url, broker.version, broker.protocol

    def _spawn(self, role: str, name: str, slice_no: int = 0) -> _Child:
        argv = [
            sys.executable, "-m", "dthq.pipeline.party", role,
            "--run", str(self.dir / "run.json"), "--export", str(self.dir / f"{name}.json"),
            "--slice", str(slice_no), "--parent", str(os.getpid()),
        ]  # fmt: skip
        child = _Child(name, argv, self.dir / f"{name}.log")
        self.children.append(child)
        self.cpu.add(LOAD_GENERATOR if role == "devices" else role, child.proc.pid)
        return child

    def _write_run(self, url: str, protocol: int) -> list[tuple[int, int]]:
        c = self.c
        registry = self.dir / "registry.json"
        provision(c.patients).save(registry)  # 0600
        slices = _slices(c.patients, c.device_processes)
        cpus: dict[str, list[int]] = {}
        if self.system_cores is not None and self.load_cores is not None:
            cpus = {
                "cloud": sorted(self.system_cores),
                "gateway": sorted(self.system_cores),
                "devices": sorted(self.load_cores),
            }
        run = {
            "config": encode_config(c),
            "registry": str(registry),
            "broker": url,
            "protocol": protocol,
            "tag": os.urandom(3).hex(),  # client ids of this run: no stale broker sessions
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
        start = time.monotonic() + 0.1  # time for every devices process to hear it
        for d in devices:
            d.send(f"go {start!r}")
        sent = self._sending(devices, start, progress)
        self._drain(cloud, gateway, sent)
        after = self.cpu.totals()
        if progress:
            progress(1.0, sent)
        for d in devices:  # the load first, then downstream, each after the one before
            d.send("finish")
        exports = [self._export(d) for d in devices]
        for party in (gateway, cloud):
            party.send("finish")
            exports.append(self._export(party))
        cpu = {role: after[role] - before.get(role, 0.0) for role in after}
        return self._summary(exports, broker_name, cpu)

    def _sending(self, devices: list[_Child], start: float, progress: Progress | None) -> int:
        """Wait for the devices to send the load; what they sent."""
        c = self.c
        deadline = start + c.duration_s + START_S
        sent: dict[int, int] = {}
        while True:
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

    def _drain(self, cloud: _Child, gateway: _Child, sent: int) -> bool:
        c = self.c
        deadline = time.monotonic() + c.drain_s + policy_named(c.policy).window_ms / 1000
        while time.monotonic() < deadline:
            at_cloud, at_gateway = cloud.ask("status"), gateway.ask("status")
            settled = at_cloud["delivered"] + at_cloud["refused"] + at_gateway["refused"]
            if settled >= sent and at_cloud.get("pending", 0) == 0:
                return True
            time.sleep(POLL_S)
        return False

    def _export(self, child: _Child) -> Export:
        child.answer("finish", ANSWER_S)  # once its export is written; it exits after
        child.finished = True
        try:
            return json.loads((self.dir / f"{child.name}.json").read_text())
        except (OSError, ValueError) as exc:
            raise PartyFailed(f"the {child.name} wrote no export ({exc})") from None

    def _summary(self, exports: list[Export], broker: str, cpu: dict[str, float]) -> PipelineRun:
        c = self.c
        m = merge(exports)
        m.cpu_s = Counter(cpu)
        cloud = exports[-1]
        protocol = next((e["protocol"] for e in exports if e.get("protocol")), "")
        return m.summary(
            fhir_unsent=cloud.get("fhir_unsent", 0),
            fhir_oldest_unsent_s=cloud.get("fhir_oldest_unsent_s"),
            transport=c.transport,
            broker=broker,
            protocol=protocol,
            patients=c.patients,
            rate_hz=c.rate_hz,
            duration_s=c.duration_s,
            qos=c.qos,
            policy=c.policy,
            offered_per_s=c.patients * c.rate_hz,
            reconnects=sum(e["reconnects"] for e in exports),
            down_ms=max(e["down_ms"] for e in exports),
            processes=True,
            pin=c.pin,
        )
