"""One fault-suite run: the broker, the cloud twin, the gateway and the devices, each its
own process, the parties' connections through a proxy that cuts them, the cloud's FHIR
server a stand-in that fails for a while, an attacker on every handshake topic, and each
process killed with SIGKILL and started again in turn. Then the faults stop, the run
waits for the pipeline to settle, and the checker classifies every reading generated.

With ``broker="rabbitmq"`` the broker is a 3-node RabbitMQ cluster
(:mod:`dthq.transport.cluster`), a cutting proxy in front of each node; "SIGKILL broker"
becomes each node killed in turn, and started again before the next (a quorum of 2 of 3
must stay), the parties rotating to a live node.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from chaos.attacker import Attacker
from chaos.checker import Class, check
from chaos.collect import checker_log, read_device_log, recovery_s, stored_readings
from chaos.fhir_stub import FHIRStub
from chaos.parties import Party, PartyError
from chaos.proxy import CuttingProxy
from dthq.errors import UnsupportedError
from dthq.harness.results import ChaosRun, Distribution
from dthq.pipeline.run import provision
from dthq.transport.brokers import LOOPBACK, find_mosquitto, free_port, listening
from dthq.transport.bus import BusError
from dthq.transport.cluster import RABBITMQ_MISSING, RabbitCluster, find_rabbitmq
from dthq.transport.cluster_layout import PASSWORD, USER
from dthq.twin.store import Store, head_beside

BROKERS = ("amqtt", "mosquitto", "rabbitmq")
PROTOCOL = {"amqtt": 4, "mosquitto": 5, "rabbitmq": 4}
CLUSTER_NODES = 3
START_ATTEMPTS = 3
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ChaosConfig:
    broker: str = "mosquitto"
    devices: int = 3
    rate_hz: float = 2.0
    duration_s: float = 40.0  # the faults' time; then the run settles
    cut_mean_s: float | None = 6.0  # the proxy's mean gap between cuts; None: no cuts
    kills: bool = True  # each process in turn: gateway, cloud, devices, broker
    down_s: float = 1.0  # how long a killed process stays down
    sink_outage_s: float = 4.0  # the FHIR server answers 503 this long, mid-run
    attack: bool = True
    settle_s: float = 90.0  # the longest wait for everything to settle at the end
    seed: int = 0

    def __post_init__(self) -> None:
        if self.broker not in BROKERS:
            raise UnsupportedError(f"broker {self.broker!r}: choose one of {', '.join(BROKERS)}")
        if self.broker == "mosquitto" and find_mosquitto() is None:
            raise UnsupportedError("mosquitto is not installed (Debian package mosquitto)")
        if self.broker == "rabbitmq" and find_rabbitmq() is None:
            raise UnsupportedError(RABBITMQ_MISSING)
        if not 1 <= self.devices <= 50:
            raise UnsupportedError("--devices must be 1..50")
        if not 0 < self.rate_hz <= 20 or not 5 <= self.duration_s <= 3600:
            raise UnsupportedError("--rate must be 0..20 Hz and --duration 5..3600 s")


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


class Suite:
    def __init__(self, config: ChaosConfig, folder: Path, progress: Progress) -> None:
        self.c, self.dir, self.progress = config, folder, progress
        self.faults: list[tuple[str, int, int]] = []  # kind, injected ms, restored ms
        self.restarts_retried = 0
        self.registry = folder / "registry.json"
        provision(config.devices).save(self.registry)
        self.key = folder / "store.key"
        self.key.write_bytes(os.urandom(32))
        self.key.chmod(0o600)
        self.db = folder / "twin.db"
        self.device_log = folder / "readings.log"
        self.broker_port = free_port()

    def _broker(self) -> Party:
        if self.c.broker == "amqtt":
            argv = _python("-m", "dthq.transport.amqtt_broker", "--port", str(self.broker_port))
            # --parent: a suite that dies leaves no broker behind
            argv += ["--ready", "{ready}", "--parent", str(os.getpid())]
            return Party("broker", argv, self.dir)
        conf = self.dir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.broker_port} {LOOPBACK}\nallow_anonymous true\n"
            "persistence false\nmax_queued_messages 100000\nmax_inflight_messages 1000\n"
        )  # no persistence: a SIGKILL loses what it held, the receipts must cover it
        port = self.broker_port
        return Party(
            "broker",
            [str(find_mosquitto()), "-c", str(conf)],
            self.dir,
            lambda _: listening(port, 0.2),
        )

    def _parties(self, url: str, fhir_url: str) -> dict[str, Party]:
        protocol = str(PROTOCOL[self.c.broker])
        cloud = _python(
            "-m", "dthq.cli", "twin", "consume", "--broker", url, "--registry",
            str(self.registry), "--store", str(self.db), "--key-file", str(self.key),
            "--fhir-url", fhir_url, "--client-id", "dthq-chaos-cloud",
        )  # fmt: skip
        gateway = _python(
            "-m", "dthq.fleet.service", "gateway", "--registry", str(self.registry),
            "--broker", url, "--protocol", protocol, "--member", "gw-1", "--policy", "fixed",
            "--ready", "{ready}", "--stats", str(self.dir / "gateway.json"),
            "--client-id", "dthq-chaos-gw-1",
        )  # fmt: skip
        devices = _python(
            "-m", "chaos.devices", "--registry", str(self.registry), "--broker", url,
            "--protocol", protocol, "--rate", str(self.c.rate_hz), "--seed", str(self.c.seed),
            "--log", str(self.device_log), "--ready", "{ready}",
        )  # fmt: skip
        return {
            "cloud": Party("cloud", cloud, self.dir, lambda p: p.said("ready")),
            "gateway": Party("gateway", gateway, self.dir),
            "devices": Party("devices", devices, self.dir),
        }

    def run(self) -> ChaosRun:
        c = self.c
        with ExitStack() as stack:
            if c.broker == "rabbitmq":
                self.progress("starting the cluster")
                cluster = stack.enter_context(RabbitCluster(self.dir / "cluster", CLUSTER_NODES))
                upstreams = [(LOOPBACK, n.mqtt) for n in cluster.nodes]
                brokers = {f"node {n.index}": _Node(cluster, n.index) for n in cluster.nodes}
            else:
                broker = self._broker()
                stack.callback(broker.stop)
                broker.start()
                upstreams = [(LOOPBACK, self.broker_port)]
                brokers = {"broker": broker}
            proxies = [
                stack.enter_context(CuttingProxy(up, seed=c.seed + i, mean_gap_s=None))
                for i, up in enumerate(upstreams)
            ]
            nodes = ",".join(f"{LOOPBACK}:{p.port}" for p in proxies)
            user = f"{USER}:{PASSWORD}@" if c.broker == "rabbitmq" else ""
            url = f"mqtt://{user}{nodes}"
            fhir = stack.enter_context(FHIRStub())
            parties = self._parties(url, fhir.url)
            for name in ("cloud", "gateway", "devices"):  # each waits for the one before
                stack.callback(parties[name].stop)
                self.progress(f"starting the {name}")
                parties[name].start()
            attacker = Attacker(url, protocol=PROTOCOL[c.broker]) if c.attack else None
            if attacker is not None:
                stack.callback(attacker.close)
            if c.cut_mean_s:
                for proxy in proxies:
                    proxy.cut_every(c.cut_mean_s)
            self._inject(brokers, parties, fhir)
            for proxy in proxies:
                proxy.cut_every(None)
            if attacker is not None:
                attacker.close()
            self.progress("settling")
            settled = self._settle(parties)
            summary = _last_json(parties["devices"])
            for name in ("devices", "gateway", "cloud"):
                parties[name].stop()
            return self._result(proxies, fhir, attacker, settled, summary)

    def _inject(
        self, brokers: dict[str, Party | _Node], parties: dict[str, Party], fhir: FHIRStub
    ) -> None:
        """The faults, spread over the duration: each process killed in turn (every
        broker node last), the sink's outage between them; the proxies cut all along."""
        c = self.c
        steps: list[tuple[str, Callable[[], None]]] = []
        if c.kills:
            # The devices first: a reading the pipeline loses after that is still held
            # by the devices process that runs to the end, so it cannot pass for one that
            # died unacknowledged with a killed devices process.
            for name, party in [
                *((n, parties[n]) for n in ("devices", "gateway", "cloud")),
                *brokers.items(),
            ]:
                steps.append((f"SIGKILL {name}", lambda party=party: self._kill(party)))
        if c.sink_outage_s:
            steps.insert(len(steps) // 2, ("FHIR server down", lambda: self._outage(fhir)))
        start = time.monotonic()
        gap = c.duration_s / (len(steps) + 1)
        for i, (kind, act) in enumerate(steps, 1):
            _sleep_until(start + i * gap)
            self.progress(kind)
            injected = _now_ms()
            act()
            self.faults.append((kind, injected, _now_ms()))
        _sleep_until(start + c.duration_s)

    def _kill(self, party: Party | _Node) -> None:
        party.kill()
        time.sleep(self.c.down_s)
        # As a supervisor would: a party whose start fails while the network flaps (a
        # CONNECT cut before its CONNACK) is started again, a few times, each counted.
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                party.start()
                return
            except PartyError:
                if attempt == START_ATTEMPTS:
                    raise
                self.restarts_retried += 1

    def _outage(self, fhir: FHIRStub) -> None:
        fhir.failing.set()
        time.sleep(self.c.sink_outage_s)
        fhir.failing.clear()

    def _settle(self, parties: dict[str, Party]) -> bool:
        """The devices stop taking readings (SIGUSR1) and resend what waits; until every
        reading the running devices process generated is settled (True), or settle_s
        (False)."""
        parties["devices"].signal(signal.SIGUSR1)
        deadline = time.monotonic() + self.c.settle_s
        while time.monotonic() < deadline:
            for party in parties.values():
                party.check_alive()
            log = read_device_log(self.device_log)
            waiting = [k for k, boot in log.generated.items() if boot == log.boots]
            if waiting and all(k in log.settled for k in waiting):
                time.sleep(2)  # the outbox's last bundles
                return True
            time.sleep(0.5)
        return False

    def _result(self, proxies, fhir, attacker, settled, summary) -> ChaosRun:  # type: ignore[no-untyped-def]
        c = self.c
        devices = read_device_log(self.device_log)
        head = head_beside(self.key, self.db)
        store = Store(self.db, self.key.read_bytes(), existing=True, head=head)
        try:
            stored = stored_readings(store)
            verified = store.verify()
        finally:
            store.close()
        log, behind = checker_log(devices, stored, fhir.distinct())
        checked = check(log)
        patients = sorted({pid for pid, _ in devices.generated})
        faults = {kind: 1 for kind, _, _ in self.faults}
        faults["connection cut"] = sum(p.stats.cuts for p in proxies)
        if self.restarts_retried:
            faults["a restart that failed and was retried"] = self.restarts_retried
        if attacker is not None:
            for kind, n in attacker.injected.items():
                faults[f"hostile flight: {kind}"] = n
        recovery = recovery_s(
            [*self.faults, *(("cut", at, at) for p in proxies for at in p.cut_times)],
            devices,
            patients,
        )
        established = sum(1 for d in summary.get("devices", {}).values() if d["established"])
        return ChaosRun(
            broker=c.broker,
            devices=c.devices,
            rate_hz=c.rate_hz,
            duration_s=c.duration_s,
            seed=c.seed,
            faults=faults,
            readings={cls.value: checked.counts.get(cls, 0) for cls in Class},
            lost=checked.lost_by_reason(),
            recovery_s=Distribution.from_samples(recovery) if recovery else None,
            established=established,
            settled=settled,
            store_verified=verified.ok,
            fhir_behind=len(behind),
            ok=checked.ok and settled and established == c.devices and verified.ok,
        )


class _Node:
    """A cluster node as the fault schedule sees a party: killed with SIGKILL, then
    started again with its data (and waited for until it passes messages)."""

    def __init__(self, cluster: RabbitCluster, index: int) -> None:
        self.cluster, self.index = cluster, index

    def kill(self) -> None:
        self.cluster.kill(self.index)

    def start(self) -> None:
        try:
            self.cluster.restart(self.index)
        except BusError as exc:
            raise PartyError(f"node {self.index} did not come back: {exc}") from None


def _last_json(party: Party) -> dict[str, object]:
    """The JSON line a party prints when stopped (read after it stops)."""
    party.stop()
    for line in reversed(party.log.read_text(errors="replace").splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                break
    raise PartyError(f"{party.name} printed no summary: see {party.log}")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _sleep_until(at: float) -> None:
    wait = at - time.monotonic()
    if wait > 0:
        time.sleep(wait)


def run_suite(config: ChaosConfig, folder: Path | None, progress: Progress) -> ChaosRun:
    """One run in ``folder`` (kept, with every party's log) or a temporary one."""
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        return Suite(config, folder, progress).run()
    tmp = Path(tempfile.mkdtemp(prefix="dthq-chaos-"))
    try:
        return Suite(config, tmp, progress).run()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
