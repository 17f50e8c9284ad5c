"""Helpers the tests import: provisioned DTHQ configurations, fresh handshake machines (and
copies of one mid-handshake), complete honest handshakes and the record layers they
release, test clocks for the pipeline, the shape of a report a fixture wrote."""

from __future__ import annotations

import copy
import dataclasses
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar

import pytest

from dthq.errors import StateError
from dthq.pipeline.clock import SYSTEM_CLOCK
from dthq.protocol.handshake import Initiator, Responder
from dthq.protocol.record import RecordLayer
from dthq.schemes.dthq import DTHQScheme


def outside_xdist() -> dict[str, str]:
    """This environment without xdist's worker variables, for a subprocess that runs
    ``dthq bench``: pytest-benchmark turns itself off in what it takes for an xdist worker."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")}


@cache
@cache
def scheme(
    auth: str = "psk", key_length: int = 256, kem: str = "ML-KEM-768", mode: str = "mlkem"
) -> DTHQScheme:
    """Provisioning is slow for ML-DSA (key generation), so each configuration is made once.
    The QKD modes get Q, a key manager fed by the simulated link (seeded)."""
    if mode == "mlkem":
        return DTHQScheme(auth=auth, key_length=key_length, kem=kem)
    from dthq.qkd.kme import KeyManager
    from dthq.qkd.scheme import QKDScheme

    kme = KeyManager("device-A", "service-B", seed=11)
    return QKDScheme(mode=mode, key_manager=kme, auth=auth, key_length=key_length, kem=kem)


@dataclass(frozen=True)
class OffsetClock:
    """The machine's clock moved by ``offset_ms``: a party whose clock runs behind (< 0)."""

    offset_ms: int

    def now_ms(self) -> int:
        return SYSTEM_CLOCK.now_ms() + self.offset_ms

    def monotonic_s(self) -> float:
        return SYSTEM_CLOCK.monotonic_s()


@dataclass
class SteppingClock:
    """A test's clock: each ``now_ms`` reads ``at_ms`` and moves it on by ``step_ms`` (0: a
    fixed clock); ``monotonic_s`` is the same time, in seconds."""

    at_ms: int
    step_ms: int = 0

    def now_ms(self) -> int:
        now, self.at_ms = self.at_ms, self.at_ms + self.step_ms
        return now

    def monotonic_s(self) -> float:
        return self.at_ms / 1000


def machines(s: DTHQScheme) -> tuple[Initiator, Responder]:
    return Initiator(s.initiator_config), Responder(s.responder_config)


M = TypeVar("M", Initiator, Responder)


def _provisioning(config: object) -> dict[int, object]:
    """The configuration and what its fields hold, through dataclasses and containers, by
    id: a ``deepcopy`` memo that leaves them shared. Other objects (a key manager, a
    signing key) are shared as they are, and not looked into."""
    shared: dict[int, object] = {}
    todo = [config]
    while todo:
        item = todo.pop()
        if id(item) in shared:
            continue
        shared[id(item)] = item
        if isinstance(item, Mapping):
            todo.extend([*item.keys(), *item.values()])
        elif isinstance(item, (list, tuple, set, frozenset)):
            todo.extend(item)
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            todo.extend(getattr(item, f.name) for f in dataclasses.fields(item))
    return shared


def fork(party: M) -> M:
    """A fresh machine in exactly ``party``'s state, to be handed one flight in its place:
    its own copy of everything the machine holds (state, transcript, key schedule,
    ephemeral keys, QKD key), while its provisioned configuration (keys, registered
    devices, the key manager) is shared, as between any two machines of one scheme.
    What the copy does (failing, wiping its secrets) leaves ``party`` untouched."""
    return copy.deepcopy(party, _provisioning(party.config))


def complete(a: Initiator, b: Responder) -> list[bytes]:
    """A complete honest handshake between these machines at time 0: [HELLO, REPLY, FINISH]."""
    hello = a.start()
    reply = b.receive(hello, 0)
    assert reply is not None
    finish = a.receive(reply)
    assert b.receive(finish, 0) is None
    return [hello, reply, finish]


def run(s: DTHQScheme) -> tuple[Initiator, Responder, list[bytes]]:
    """A complete honest handshake at time 0: (A, B, [HELLO, REPLY, FINISH])."""
    a, b = machines(s)
    return a, b, complete(a, b)


def channel(party: Initiator | Responder, now_ms: int = 0, **options: object) -> RecordLayer:
    """The record layer of an established party, built from its released keys."""
    return RecordLayer.from_keys(party.session_keys(), now_ms, **options)  # type: ignore[arg-type]


def assert_no_keys(*parties: Initiator | Responder) -> None:
    """No session key is released by any of these machines."""
    assert parties, "no machine to check"
    for party in parties:
        assert not party.established
        with pytest.raises(StateError):
            party.session_keys()


# The attack sets run over these: every auth mode, every key length, both pyca KEMs,
# both ML-DSA levels, KEM authentication of B alone and of both.
ATTACKED = [
    pytest.param(("psk", 256, "ML-KEM-768"), id="psk"),
    pytest.param(("mldsa", 256, "ML-KEM-768"), id="mldsa"),
    pytest.param(("psk", 128, "ML-KEM-768"), id="psk-128"),
    pytest.param(("psk", 512, "ML-KEM-768"), id="psk-512"),
    pytest.param(("psk", 256, "ML-KEM-1024"), id="psk-mlkem1024"),
    pytest.param(("mldsa44", 512, "ML-KEM-1024"), id="mldsa44-512-mlkem1024"),
    pytest.param(("psk", 256, "ML-KEM-768", "qkd"), id="qkd-psk"),
    pytest.param(("mldsa", 256, "ML-KEM-768", "qkd"), id="qkd-mldsa"),
    pytest.param(("psk", 256, "ML-KEM-768", "qkd+mlkem"), id="qkd+mlkem-psk"),
    pytest.param(("kem", 256, "ML-KEM-768"), id="kem"),
    pytest.param(("kem-psk", 256, "ML-KEM-768"), id="kem-psk"),
    pytest.param(("kem", 128, "ML-KEM-1024"), id="kem-128-mlkem1024"),
    pytest.param(("kem", 256, "ML-KEM-768", "qkd"), id="qkd-kem"),
]


# The tests that read the results_report fixture (conftest.py) run on one xdist worker,
# so it is written once.
SHARED_REPORT = pytest.mark.xdist_group("results-report")


@dataclass(frozen=True)
class WrittenReport:
    """A report directory a fixture wrote once, and the files ``write_report`` returned."""

    out: Path
    written: tuple[Path, ...]


def twin_serve() -> subprocess.Popen[str]:
    """``dthq twin serve`` on a free port, one simulated patient in memory: its first
    line on stderr says where the dashboard is."""
    return subprocess.Popen(
        [sys.executable, "-m", "dthq.cli", "twin", "serve", "--port", "0",
         "--transport", "memory", "--patients", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
