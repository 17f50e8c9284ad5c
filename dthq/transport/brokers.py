"""MQTT brokers the project starts itself, each on a free loopback port.

- :class:`EmbeddedBroker`: amqtt (pure Python, MQTT 3.1.1) in a child process of its
  own: the default, so a fresh machine needs nothing installed.
- :class:`MosquittoBroker`: Debian's ``mosquitto`` (MQTT 5) as a child process, the
  reference broker; the tests and the benchmarks start one when the binary exists.
  With ``tls=`` (a :class:`~dthq.transport.tls.TLSMaterial`) it listens for TLS 1.3
  only, requires a client certificate whose CN becomes the user name, and confines
  each user to the topics of its ``acl`` entry.

Both are reached through :class:`~dthq.transport.mqtt.MQTTBus` like any external
broker given with ``--broker mqtt://HOST:PORT``: the same client code for all three.
Both can be stopped and started again on the same port (the broker-restart tests).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from dthq.errors import UnsupportedError
from dthq.transport.bus import BusError
from dthq.transport.tls import TLSMaterial

LOOPBACK = "127.0.0.1"
PR_SET_PDEATHSIG = 1  # linux/prctl.h
ACCESS = ("read", "write", "readwrite")
Acl = Mapping[str, Sequence[tuple[str, str]]]  # user -> (access, topic pattern) pairs
MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/bin/mosquitto")
START_S = 30.0  # a fresh interpreter importing amqtt, on a loaded machine
STOP_S = 8.0  # beyond the child's own bound on amqtt's shutdown, then SIGKILL
TAIL_BYTES = 2000


PORT_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"
LISTEN_PORTS = (20_000, 32_767)  # below Linux's default ephemeral range (32768-60999)
# Its own generator, from the OS: processes that seed the global one alike (a test run's
# workers, say) must not all draw the same port.
_PICK = random.SystemRandom()


def _ephemeral() -> tuple[int, int]:
    try:
        low, high = (int(v) for v in Path(PORT_RANGE).read_text().split())
    except (OSError, ValueError):
        return 32_768, 60_999
    return low, high


def free_port() -> int:
    """A free loopback port to listen on, outside the kernel's ephemeral range where it
    can: a broker restarted on its port finds it free, not taken meanwhile as the
    source port of some outgoing connection (the suites open hundreds)."""
    low, high = _ephemeral()
    candidates = [p for p in range(*LISTEN_PORTS) if not low <= p <= high]
    for port in _PICK.sample(candidates, min(50, len(candidates))):
        with socket.socket() as s:
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # the range is full, or covers everything: any port
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def listening(port: int, timeout: float = 0.5) -> bool:
    """Something accepts connections on the loopback ``port`` now."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout):
            return True
    except OSError:
        return False


def _wait_listening(port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listening(port, 0.2):
            return
        time.sleep(0.02)
    raise BusError(f"{what} did not start listening on {LOOPBACK}:{port} in {timeout} s")


class Broker(Protocol):
    name: str
    port: int
    protocol: int  # paho.MQTTv5 or paho.MQTTv311: what clients should speak

    @property
    def url(self) -> str: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Lifecycle:
    """``with`` starts it and stops it, whatever happens inside."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _Managed(Lifecycle):
    name = "broker"
    port: int

    @property
    def url(self) -> str:
        return f"mqtt://{LOOPBACK}:{self.port}"

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()


class EmbeddedBroker(_Managed):
    """amqtt in a child process (:mod:`dthq.transport.amqtt_broker`), which exits when
    this process is gone."""

    name = "amqtt"
    protocol = 4  # MQTT 3.1.1 only (paho.MQTTv311)

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="dthq-amqtt-")
        self._ready = Path(self._dir.name) / "ready"
        self._stderr = Path(self._dir.name) / "stderr.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def version(self) -> str:
        from importlib.metadata import version

        return f"amqtt {version('amqtt')}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        if self._proc is not None:
            self.check()
            raise BusError(f"amqtt is already running on port {self.port} (pid {self.pid})")
        self._ready.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "dthq.transport.amqtt_broker", "--port", str(self.port)]
        argv += ["--ready", str(self._ready), "--parent", str(os.getpid())]
        with self._stderr.open("wb") as err:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        self._proc = proc
        try:
            self._wait_ready(proc)
        except BaseException:  # a Ctrl-C too: a start that fails leaves no child behind
            self.stop()
            raise

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + START_S
        while not self._ready.exists():
            if proc.poll() is not None:
                ended = _ended(proc.returncode)
                raise BusError(f"amqtt {ended} before it listened: {self._last()}")
            if time.monotonic() > deadline:
                raise BusError(
                    f"amqtt did not start listening on {LOOPBACK}:{self.port} in {START_S:g} s"
                    f": {self._last()}"
                )
            time.sleep(0.01)

    def check(self) -> None:
        """A :class:`BusError` if the broker's process died since it started."""
        if self._proc is not None and self._proc.poll() is not None:
            raise BusError(
                f"amqtt on port {self.port} (pid {self._proc.pid}) "
                f"{_ended(self._proc.returncode)}: {self._last()}"
            )

    def stop(self) -> None:
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_S)
            except subprocess.TimeoutExpired:
                proc.kill()  # the port is freed with the process
                proc.wait(5)

    def _last(self) -> str:
        """The child's last line of stderr: what went wrong, when something did."""
        try:
            lines = self._stderr.read_bytes()[-TAIL_BYTES:].decode(errors="replace").splitlines()
        except OSError:
            lines = []
        return next((line.strip() for line in reversed(lines) if line.strip()), "no output")


def _ended(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with {code}"


def _die_with_starter() -> None:
    """In the child before exec: SIGTERM when the thread that started it ends (a killed
    runner, say), so no broker outlives its run. The bench starts brokers on the main
    thread, whose end is the process's."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def find_mosquitto() -> str | None:
    for path in MOSQUITTO_PATHS:
        if Path(path).exists():
            return path
    return shutil.which("mosquitto")


class MosquittoBroker(_Managed):
    """Debian's mosquitto as a child process, configured for loopback only."""

    name = "mosquitto"
    protocol = 5  # paho.MQTTv5

    def __init__(
        self,
        port: int | None = None,
        binary: str | None = None,
        *,
        tls: TLSMaterial | None = None,
        acl: Acl | None = None,
    ) -> None:
        """``tls``: the TLS listener's material (then ``acl`` is required: with client
        certificates every identity is someone, and each gets only its own topics)."""
        if (tls is None) != (acl is None):
            raise UnsupportedError("mosquitto: an ACL goes with a TLS listener, and back")
        for user, rules in (acl or {}).items():
            for access, topic in rules:
                if access not in ACCESS or not topic or {" ", "\n"} & set(topic + user):
                    raise UnsupportedError(f"ACL entry {user!r}: {access!r} {topic!r}")
        found = binary or find_mosquitto()
        if not found:
            raise BusError("mosquitto is not installed (Debian package mosquitto)")
        self.binary = found
        self.port = port or free_port()
        self.tls, self._acl = tls, acl
        self._dir = tempfile.TemporaryDirectory(prefix="dthq-mosquitto-")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def version(self) -> str:
        out = subprocess.run([self.binary, "-h"], capture_output=True, text=True).stdout
        first = out.splitlines()[0] if out else "mosquitto"
        return first.removesuffix(".").strip()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _listener(self) -> str:
        if self.tls is None or self._acl is None:
            return f"listener {self.port} {LOOPBACK}\nallow_anonymous true\n"
        acl = Path(self._dir.name) / "acl"
        acl.write_text(
            "".join(
                f"user {user}\n" + "".join(f"topic {a} {t}\n" for a, t in rules) + "\n"
                for user, rules in self._acl.items()
            )
        )
        cert, key = self.tls.server
        # Started by root, mosquitto becomes user "mosquitto" before it reads the ACL, and
        # could not read this run's 0700 directories: it stays who started it.
        stay = "user root\n" if os.geteuid() == 0 else ""
        return (
            f"{stay}listener {self.port} {LOOPBACK}\n"
            f"cafile {self.tls.ca}\ncertfile {cert}\nkeyfile {key}\n"
            "tls_version tlsv1.3\n"
            "require_certificate true\n"
            "use_identity_as_username true\n"
            # The client id is the certificate's name too: else any client could take a
            # gateway's id and so its session (the broker drops the one that had it).
            "use_username_as_clientid true\n"
            f"acl_file {acl}\n"
        )

    def start(self) -> None:
        conf = Path(self._dir.name) / "mosquitto.conf"
        conf.write_text(
            self._listener() + "persistence false\n"
            "max_queued_messages 100000\n"
            "max_inflight_messages 1000\n"
            "set_tcp_nodelay true\n"
            "log_dest none\n"
        )
        self._proc = subprocess.Popen(
            [self.binary, "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_starter,
        )
        try:
            _wait_listening(self.port, 10, "mosquitto")
        except BusError:
            self.stop()
            raise

    def stop(self) -> None:
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stderr:
            proc.stderr.close()
