"""The timed calls of the figures the targets are judged on, each built once.

The primitives, Table 3 and Table 4 benchmarks time these calls, and the paired suite
(bench/test_paired.py) times the very same ones in interleaved rounds, so a paired ratio
is of exactly what the separate figures measure. Setup (keys, sessions, ciphertexts) is
done here, outside every timed region; each builder returns the zero-argument call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dthq
from bench.provision import scheme
from dthq.crypto.kem import get_kem
from dthq.harness.primitive_set import aead_call, hkdf_call, kem_call, payloads
from dthq.harness.scenarios import (
    TABLE3_SIZE,
    Table3Scenario,
    Table4Scenario,
    table3_scenarios,
)

Call = Callable[[], Any]
PAYLOADS = payloads()  # the primitives' seeded readings, one of each size
READING = PAYLOADS[TABLE3_SIZE]  # Table 3's one small reading (the same seeded bytes)


# --- primitives (built as the primitives suite builds them) ---------------------------


def aead_seal_open(aead: str, backend: str, size: str) -> Call:
    """Encrypt then decrypt ``size``'s payload with a fresh key, nonce and 30-byte AAD."""
    return aead_call(aead, backend, size)


def kem_op(kem: str, op: str, backend: str | None = None) -> tuple[Call, str]:
    """One KEM operation (keygen, encaps, decaps) and the backend doing it."""
    return kem_call(kem, op, backend), get_kem(kem, backend).backend


def hkdf64() -> Call:
    """HKDF-SHA256 of a random 32-byte key to 64 bytes."""
    return hkdf_call()


# The psk handshake's floor: ML-KEM-768 keygen, encaps, decaps and one HKDF per party.
FLOOR_KEM_OPS = ("keygen", "encaps", "decaps")
FLOOR_HKDFS = 2


def handshake_floor() -> Call:
    """The floor's primitives called once each in turn (HKDF twice): the work the sum
    of their medians stands for, as one call."""
    kems = [kem_op("ML-KEM-768", op)[0] for op in FLOOR_KEM_OPS]
    kdf = hkdf64()
    keygen, encaps, decaps = kems

    def floor() -> None:
        keygen()
        encaps()
        decaps()
        for _ in range(FLOOR_HKDFS):
            kdf()

    return floor


# --- Table 3 ---------------------------------------------------------------------------


def table3_row(key: str) -> Table3Scenario:
    rows = table3_scenarios(dthq.SCHEMES.names())
    found = next((r for r in rows if r.key == key), None)
    if found is None:
        raise LookupError(f"no Table 3 row {key!r} here (rows: {', '.join(r.key for r in rows)})")
    return found


def table3_scheme(row: Table3Scenario, compress: bool, profile: Any = None) -> Any:
    """The row's scheme, compressing or not (provisioned once per configuration)."""
    s = scheme(row.scheme, **row.scheme_options(compress=compress))
    if profile is not None and hasattr(s, "top_up"):
        # QKD rows: Q's keys are made before the timed region (a generous bound on the
        # handshakes one benchmark runs); the simulated link's own cost is `dthq qkd`'s.
        s.top_up(int(profile.max_time_s * 10_000) + 200)
    return s


def handshake(row: Table3Scenario, profile: Any = None) -> Call:
    """One complete mutually authenticated key establishment, both parties."""
    s = table3_scheme(row, compress=True, profile=profile)
    return lambda: s.establish(0)


def record_path(row: Table3Scenario, compress: bool = False) -> Call:
    """Seal + open of one reading on an established session (compression off: the
    record path alone; on: Table 3's message figure)."""
    session = table3_scheme(row, compress=compress).establish(0)
    seal, open_ = session.initiator.seal, session.responder.open
    return lambda: open_(seal(READING, 1), 1)


# --- Table 4 ---------------------------------------------------------------------------


def table4_scheme(cell: Table4Scenario, **options: Any) -> Any:
    """The cell's scheme: DTHQ with its session-key source, ML-KEM-768 or Q's SIMULATED
    QKD keys."""
    return scheme(cell.kem.scheme, key_length=cell.key_length, **cell.kem.options, **options)


def table4_payload(cell: Table4Scenario) -> bytes:
    return PAYLOADS[cell.size]  # the primitives' bytes too


def table4_al(cell: Table4Scenario) -> Call:
    """Compress + encrypt + in-memory transfer + decrypt + decompress of the payload."""
    session = table4_scheme(cell, edge=cell.edge).establish(0)
    seal, open_ = session.initiator.seal, session.responder.open
    payload = table4_payload(cell)
    return lambda: open_(seal(payload, 1), 1)
