"""``dthq fleet``: one fleet run, every part in its own process on this machine.

1. provision the registry (every id a worker may hand out, the attacker's offline
   victims, the gateways) into a 0600 file the processes read;
2. the broker: Mosquitto (a child), the embedded amqtt (a child), or
   the URL given;
3. the gateway(s) (``service gateway``), which wait for the twin;
4. Locust: a master (``--master``; the twin runs inside it) and K local workers
   (``--worker``), so that workers on other machines join the same way;
5. while it runs, each process's CPU is sampled (psutil) twice a second;
6. at the end the gateways write what they counted, and the master the twin's
   counts and the samples: together one :class:`~dthq.harness.results.FleetRun`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from dthq.errors import RunAborted, StateError
from dthq.fleet.config import FleetConfig, member_id, provision, registry_path
from dthq.harness.results import Distribution, FleetRun
from dthq.pipeline.cpu import CPUSampler
from dthq.transport.brokers import EmbeddedBroker, MosquittoBroker, free_port
from dthq.transport.mqtt import redacted

START_S = 90.0  # the longest wait for a part to come up
LOCUSTFILE = Path(__file__).with_name("locustfile.py")  # not imported: Locust patches gevent

EMBEDDED = {"amqtt": EmbeddedBroker, "mosquitto": MosquittoBroker}  # each a child process
Progress = Callable[[float, str], None]  # (fraction of the run time, what is happening)


class FleetError(RunAborted):
    """A part of the fleet did not start, or died: the run aborted."""


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def _tail(log: Path, n: int = 2000) -> str:
    try:
        return log.read_bytes()[-n:].decode(errors="replace").strip()
    except OSError:
        return ""


def _wait_file(path: Path, proc: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + START_S
    while not path.exists():
        if proc.poll() is not None:
            raise FleetError(f"{what} exited with {proc.returncode}: {_tail(log)}")
        if time.monotonic() > deadline:
            raise FleetError(f"{what} did not start in {START_S} s")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def run_fleet(
    config: FleetConfig, out: Path | None = None, progress: Progress | None = None
) -> FleetRun:
    """Run one fleet; Locust's CSV and HTML report and the parts' logs go to ``out``."""
    with ExitStack() as stack:
        if out is None:
            out = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dthq-fleet-")))
        out.mkdir(parents=True, exist_ok=True)
        return _Fleet(config, out, stack, progress).run()


class _Fleet:
    def __init__(
        self, config: FleetConfig, out: Path, stack: ExitStack, progress: Progress | None
    ) -> None:
        self.c, self.out, self.stack = config, out, stack
        self.progress = progress or (lambda _f, _s: None)
        self.cpu = CPUSampler()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.tag = os.urandom(3).hex()  # this run's client ids: no stale broker sessions
        stack.callback(self._stop_all)

    def log(self, name: str) -> Path:
        return self.out / f"{name}.log"

    def _spawn(self, role: str, args: list[str], log: str) -> subprocess.Popen[bytes]:
        out = open(self.log(log), "wb")  # noqa: SIM115 (closed with the stack)
        self.stack.callback(out.close)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        self.procs.append(proc)
        self.cpu.add(role, proc.pid)
        return proc

    def _stop_all(self) -> None:
        for proc in reversed(self.procs):
            _stop(proc)

    def _broker(self) -> tuple[str, str, int]:
        """(URL, name and version, MQTT protocol number or 0 to probe)."""
        c = self.c
        if c.broker is not None:
            return c.broker, redacted(c.broker), 0  # a results file names no password
        broker = self.stack.enter_context(EMBEDDED[c.embedded]())
        self.cpu.add("broker", broker.pid)
        return broker.url, broker.version, broker.protocol

    def run(self) -> FleetRun:
        c, out = self.c, self.out
        registry = registry_path(out)
        provision(c).save(registry)
        self.progress(0.0, "starting the broker")
        url, broker_name, protocol = self._broker()
        gateways = []
        for g in range(c.gateways):
            member = member_id(g)
            ready, stats = out / f"{member}.ready", out / f"{member}.json"
            args = _python(
                "-m", "dthq.fleet.service", "gateway", "--registry", str(registry),
                "--broker", url, "--protocol", str(protocol), "--member", member,
                "--policy", c.policy, "--retry", c.retry.value,
                "--ready", str(ready), "--stats", str(stats), "--pool", str(c.gateways),
                # Stable for the run: a gateway started again takes up its queued messages.
                "--client-id", f"dthq-fleet-{member}-{self.tag}",
            )  # fmt: skip
            gateways.append((self._spawn("gateway", args, member), ready, stats, member))
        master = self._locust(registry, url, protocol)
        for proc, ready, _, member in gateways:
            _wait_file(ready, proc, f"gateway {member}", self.log(member))
        self.cpu.start()  # from here: the parts are up, their start-up CPU is behind them
        started = time.monotonic()
        limit = c.run_time_s + START_S
        while master.poll() is None:
            elapsed = time.monotonic() - started
            self.progress(min(1.0, elapsed / c.run_time_s), "devices sending")
            if elapsed > limit:
                raise FleetError(f"Locust did not finish in {limit:.0f} s")
            time.sleep(0.25)
        wall = time.monotonic() - started
        self.cpu.stop()
        if master.returncode not in (0, 1):  # 1: Locust saw failed requests; they are counted
            tail = _tail(self.log("locust-master"), 3000)
            raise FleetError(f"the Locust master exited with {master.returncode}: {tail}")
        for proc, *_ in gateways:  # all at once: each drains what it was sent, then stops
            proc.send_signal(signal.SIGTERM)
        for proc, *_ in gateways:
            _stop(proc)
        self.progress(1.0, "collecting")
        return self._collect(broker_name, protocol, wall, [g[2] for g in gateways])

    def _locust(self, registry: Path, url: str, protocol: int) -> subprocess.Popen[bytes]:
        c, out = self.c, self.out
        port = c.master_port or free_port()
        users = c.devices + (1 if c.storm == "handshake" else 0)
        storm_after = c.ramp_s + c.duration_s * c.storm_at_s
        dthq_options = [
            "--dthq-registry", str(registry), "--dthq-broker", url,
            "--dthq-protocol", str(protocol), "--dthq-rate", str(c.rate_hz),
            "--dthq-duration", str(c.duration_s), "--dthq-storm", c.storm or "",
            "--dthq-storm-after", f"{storm_after:.3f}",
            "--dthq-replayed", str(c.replayed_per_s), "--dthq-victims", str(c.victims),
            "--dthq-twin-delay-ms", str(c.twin_delay_ms if c.scenario == "slow-consumer" else 0),
            "--dthq-gateways", str(c.gateways), "--dthq-out", str(out),
        ]  # fmt: skip
        master = self._spawn(
            "twin",  # the Locust master: the twin's work, and Locust's own bookkeeping
            _python(
                "-m", "locust", "-f", str(LOCUSTFILE), "--master", "--headless",
                "--master-bind-host", "127.0.0.1" if not c.remote_workers else "*",
                "--master-bind-port", str(port),
                "--expect-workers", str(c.total_workers), "--expect-workers-max-wait", "60",
                "-u", str(users), "-r", str(c.spawn_rate), "-t", f"{c.run_time_s}s",
                "--stop-timeout", "15", "--csv", str(out / "locust"),
                "--html", str(out / "locust.html"), "--loglevel", "WARNING",
                *dthq_options, *c.user_classes,
            ),
            "locust-master",
        )  # fmt: skip
        for k in range(c.workers):
            self._spawn(
                "workers",
                _python(
                    "-m", "locust", "-f", str(LOCUSTFILE), "--worker",
                    "--master-host", "127.0.0.1", "--master-port", str(port),
                    "--loglevel", "WARNING",
                ),
                f"locust-worker-{k}",
            )  # fmt: skip
        return master

    def _collect(
        self, broker: str, protocol: int, wall: float, gateway_stats: list[Path]
    ) -> FleetRun:
        c = self.c
        try:
            twin = json.loads((self.out / "twin.json").read_text())
        except (OSError, ValueError) as exc:
            raise FleetError(
                f"the twin (the Locust master) wrote no results ({exc}); see {self.out}"
            ) from None
        # A gateway killed mid-run writes nothing: the run reports it, with what its own
        # log said last, and goes on with the parts that did.
        gws, killed = [], []
        for path in gateway_stats:
            try:
                gws.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                log = _tail(self.log(path.stem), 300).splitlines()
                killed.append(f"gateway {path.stem} ({log[-1] if log else 'no output'})")
        crashed = _device_exceptions(self.out / "locust_exceptions.csv")
        if crashed:
            count, message = crashed
            raise RunAborted(
                f"{count} simulated device(s) raised an exception ({message}); "
                f"see the workers' logs in {self.out}"
            )
        samples: dict[str, list[float]] = twin["samples"]
        locust = {k.split("/", 1)[1]: v["requests"] for k, v in twin["locust"].items()}
        failures = {k.split("/", 1)[1]: v["failures"] for k, v in twin["locust"].items()}
        work: dict[str, int] = {}
        rejected: dict[str, int] = dict(twin["rejected"])
        examples: dict[str, str] = dict(twin["rejection_examples"])
        cpu_s: dict[str, float] = {}
        wire: dict[str, int] = {}
        for gw in gws:
            for k, v in gw["work"].items():
                work[k] = work.get(k, 0) + v
            for k, v in gw["rejected"].items():
                rejected[k] = rejected.get(k, 0) + v
            examples.update(gw["rejection_examples"])
            for k, v in gw["cpu_s"].items():
                cpu_s[k] = cpu_s.get(k, 0.0) + v
            for k, v in gw["wire"].items():
                wire[k] = wire.get(k, 0) + v
        mean, peak = self.cpu.cores()
        handshakes = sum(locust.get(n, 0) - failures.get(n, 0) for n in _HANDSHAKES)
        published = locust.get("publish", 0) - failures.get("publish", 0)
        delivered = int(twin["delivered"])
        recovery = samples.get("storm recovery") or []
        counts = {
            "handshakes": handshakes,
            "handshake_failures": sum(failures.get(n, 0) for n in _HANDSHAKES),
            "published": published,
            "publish_failures": failures.get("publish", 0),
            "delivered": delivered,
            "duplicated": int(twin["duplicated"]),
            # PUBACKed and not at the twin when the run ended: dropped, or still queued.
            "undelivered": max(0, published - delivered),
            "rejected": sum(rejected.values()),
            "replayed": locust.get("replayed HELLO", 0) - failures.get("replayed HELLO", 0),
            "patients": len(twin["received"]),
            # A pool: messages a member took from the shared subscription and handed to
            # the device's owner, and how many members established sessions.
            "handed": sum(gw["counts"].get("handed to a pool member", 0) for gw in gws),
            "members_used": sum(1 for gw in gws if gw["work"].get("established")),
            "parts_killed": len(killed),
        }
        if killed:
            examples["part killed"] = "; ".join(killed)
        records_in = max(1, published)
        established = max(1, work.get("established", 0))
        gateway_cpu = mean.get("gateway", 0.0) * wall
        costs = {
            "gateway_ms_per_reading": (gateway_cpu - cpu_s.get("gateway handshakes", 0.0))
            * 1000
            / records_in,
            "gateway_ms_per_handshake": cpu_s.get("gateway handshakes", 0.0) * 1000 / established,
            "bytes_per_reading": wire.get("record in", 0) / records_in,
            "bytes_per_handshake": (wire.get("handshake in", 0) + wire.get("handshake out", 0))
            / established,
            "broker_ms_per_reading": mean.get("broker", 0.0) * wall * 1000 / max(1, delivered),
            "twin_ms_per_reading": mean.get("twin", 0.0) * wall * 1000 / max(1, delivered),
            # The twin's own profile: each stage's median per reading, where its time goes.
            **{f"twin_{stage}_ms_p50": ms for stage, ms in twin["stages_ms"].items()},
        }

        def dist(values: list[float] | None) -> Distribution | None:
            return Distribution.from_samples(values) if values else None

        return FleetRun(
            scenario=c.scenario,
            broker=broker,
            protocol="MQTT 5" if protocol == 5 else "MQTT 3.1.1" if protocol == 4 else "",
            devices=c.devices,
            workers=c.total_workers,
            gateways=c.gateways,
            rate_hz=c.rate_hz,
            offered_per_s=c.offered_per_s,
            duration_s=c.duration_s,
            wall_s=wall,
            handshake=dist(samples.get("handshake")),
            publish=dist(samples.get("publish")),
            end_to_end=dist(twin["e2e_ms"]),
            storm_recovery=dist(recovery),
            recovery_s=max(recovery) / 1000 if recovery else None,
            throughput_per_s=delivered / c.duration_s,
            counts=counts,
            rejected=rejected,
            gateway_work=work,
            cpu=mean,
            cpu_peak=peak,
            costs=costs,
            locust=locust,
            rejection_examples=examples,
        )


_HANDSHAKES = ("handshake", "handshake (storm)", "rekey")


def _device_exceptions(path: Path) -> tuple[int, str] | None:
    """How many exceptions Locust's users raised, and the first one's message, from the
    exceptions CSV ``--csv`` writes (Count, Message, Traceback, Nodes); None when none."""
    import csv

    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return None
    if not rows:
        return None
    return sum(int(r["Count"]) for r in rows), rows[0]["Message"]


def require_locust() -> None:
    """A clear error, not an ImportError in a child process, when Locust is missing."""
    import importlib.util

    if importlib.util.find_spec("locust") is None:
        raise StateError("Locust is not installed: pip install 'dthq-bench[fleet]'")
