"""Fuzz targets: every parser that takes bytes from outside, with real seeds.

Each target takes bytes and may raise only the project's own errors (``DTHQError``);
anything else escaping is a bug, and atheris reports it as a crash. Seeds are real
flights and records from an honest session, and real results.json files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from bench.ingest import results_from_bytes
from dthq.errors import DTHQError
from dthq.protocol.compression import DECODERS, make_codec
from dthq.protocol.record import Freshness, RecordLayer
from dthq.protocol.suites import suite_for
from dthq.protocol.wire import Finish, Hello, Reply, Retry
from dthq.schemes.dthq import DTHQScheme
from dthq.twin.reading import Reading

ROOT = Path(__file__).resolve().parents[1]
SUITE = suite_for(256)
IDS = b"\x08device-A\x09service-B"
A2B, B2A = bytes(range(32)), bytes(range(32, 64))


def _receiver() -> RecordLayer:
    # Fixed keys and no freshness, so every input meets the same state.
    return RecordLayer(SUITE, B2A, A2B, IDS, 0, freshness=Freshness.OFF, max_payload=1 << 16)


def _sender(codec: str) -> RecordLayer:
    return RecordLayer(SUITE, A2B, B2A, IDS, 0, codec=make_codec(codec), max_payload=1 << 16)


def open_record(data: bytes) -> None:
    _receiver().open_record(data, 0)


def decompress_lz4(data: bytes) -> None:
    DECODERS[1].decompress(data, 1 << 16)


def decompress_brotli(data: bytes) -> None:
    DECODERS[2].decompress(data, 1 << 16)


def results_file(data: bytes) -> None:
    results_from_bytes(data, "fuzz")


TARGETS: dict[str, Callable[[bytes], object]] = {
    "hello": Hello.from_bytes,
    "reply": Reply.from_bytes,
    "finish": Finish.from_bytes,
    "retry": Retry.from_bytes,
    "record": open_record,
    "lz4": decompress_lz4,
    "brotli": decompress_brotli,
    "results": results_file,
    "reading": Reading.from_bytes,
}


def seeds(name: str) -> list[bytes]:
    """Real inputs for a target: flights of honest handshakes, sealed records, results files."""
    if name in ("hello", "reply", "finish", "retry"):
        out = []
        for auth, retry in (("psk", "always"), ("mldsa", "never")):
            flights = DTHQScheme(auth=auth, retry=retry).establish(0).flights
            out += [f.data for f in flights if f.name.lower() == name]
        return out
    payloads = [b'{"hr":72,"spo2":98.1}', b"x" * 4000, bytes(range(256)) * 8]
    if name == "record":
        return [_sender(c).seal(p, 1) for c in ("none", "lz4", "brotli") for p in payloads]
    if name in ("lz4", "brotli"):
        return [make_codec(name).compress(p) for p in payloads]
    if name == "results":
        return [(ROOT / "tests" / "data" / f"results-v{v}.json").read_bytes() for v in (1, 3)]
    if name == "reading":
        from dthq.harness.telemetry import TelemetryGenerator

        return [TelemetryGenerator(seed).payload("small") for seed in range(4)]
    raise KeyError(name)


def guarded(target: Callable[[bytes], object]) -> Callable[[bytes], None]:
    """The property: only the project's own errors may escape."""

    def one_input(data: bytes) -> None:
        with contextlib.suppress(DTHQError):
            target(data)

    return one_input
