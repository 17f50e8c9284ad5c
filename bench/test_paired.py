"""The timing-ratio targets' figures, paired: each target's numerator and denominator
timed in the same interleaved rounds, in this one process (dthq.harness.paired), with
the very calls the primitives, Table 3 and Table 4 benchmarks time (bench/calls.py).
The run is one benchmark; its figures are the PairedRatios."""

from __future__ import annotations

from typing import Any

from bench import calls
from bench.tags import Suite, tag_figures
from dthq.harness import paired
from dthq.harness.paired import Pair
from dthq.harness.scenarios import Table4Scenario

AL_CELL = Table4Scenario(256, "far", "small")  # Table 4's KL 256, far edge, small reading
AEAD = "aead/AES-256-GCM/cryptography/small"
AL = f"table4 al {AL_CELL.key}"
HANDSHAKE = "table3 handshake dthq-mlkem768-psk"
FLOOR = "ML-KEM-768 keygen+encaps+decaps + 2 HKDF-SHA256/64B"
TLS_HANDSHAKE = "table3 handshake tls13-x25519mlkem768"
RECORD = "table3 record dthq-mlkem768-psk"
TLS_RECORD = "table3 record tls13-x25519"

PAIRS = (
    Pair(paired.SEAL_OPEN, AL, AEAD),
    Pair(paired.HANDSHAKE_FLOOR, HANDSHAKE, FLOOR),
    Pair(paired.HANDSHAKE_TLS, HANDSHAKE, TLS_HANDSHAKE),
    Pair(paired.RECORD_TLS, RECORD, TLS_RECORD),
)


def paired_calls(profile: Any = None) -> dict[str, calls.Call]:
    """Each call the pairs name, built as its own benchmark builds it."""
    row = calls.table3_row
    return {
        AL: calls.table4_al(AL_CELL),
        AEAD: calls.aead_seal_open("AES-256-GCM", "cryptography", AL_CELL.size),
        HANDSHAKE: calls.handshake(row("dthq-mlkem768-psk"), profile),
        FLOOR: calls.handshake_floor(),
        TLS_HANDSHAKE: calls.handshake(row("tls13-x25519mlkem768"), profile),
        RECORD: calls.record_path(row("dthq-mlkem768-psk")),
        TLS_RECORD: calls.record_path(row("tls13-x25519")),
    }


def test_paired_ratios(benchmark: Any, bench_profile: Any) -> None:
    found = paired_calls(bench_profile)
    rounds = bench_profile.paired_rounds
    points = benchmark.pedantic(paired.measure, args=(found, PAIRS, rounds), rounds=1, iterations=1)
    tag_figures(benchmark, Suite.PAIRED, points)
    assert [p.figure for p in points] == [p.figure for p in PAIRS]
    assert all(len(p.ratios) == rounds for p in points)
