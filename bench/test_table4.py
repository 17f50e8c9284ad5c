"""Table 4: DTHQ (psk) over session-key source x key length x edge type x data size; the
sources are the paper's ML-KEM-768 and Q's SIMULATED QKD keys (alone, and with ML-KEM-768).

- al: compress + encrypt + in-memory transfer + decrypt + decompress of one payload;
- cc: cryptographic cost, the measured counterpart of the paper's Eq. 9: one
  handshake plus AEAD seal and open of the compressed payload, no compression.
Comm (bits) and the modelled link time are derived from the record's size at ingestion.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.calls import table4_al
from bench.calls import table4_payload as _payload
from bench.calls import table4_scheme as _scheme
from bench.provision import scheme
from bench.tags import Suite, tag, tag_table4
from dthq.harness.results import Metric
from dthq.harness.scenarios import PROFILES, TABLE4, Table4Scenario
from dthq.protocol.compression import NONE_ID, compress_adaptive

CELLS = [pytest.param(cell, id=cell.key) for cell in TABLE4]


def _tag(benchmark: Any, cell: Table4Scenario, metric: Metric, s: Any, payload: bytes) -> None:
    record = s.establish(0).initiator.seal(payload, 1)
    codec_id, body = compress_adaptive(s.codec, payload)
    tag_table4(
        benchmark,
        cell,
        metric,
        codec=s.codec.name,
        aead=s.suite.aead_name,
        compressed=codec_id != NONE_ID,
        payload_bytes=len(payload),
        compressed_bytes=len(body),
        record_bytes=len(record),
    )


@pytest.mark.parametrize("cell", CELLS)
def test_al(benchmark: Any, cell: Table4Scenario) -> None:
    payload = _payload(cell)
    _tag(benchmark, cell, Metric.AL, _scheme(cell, edge=cell.edge), payload)
    assert benchmark(table4_al(cell)) == payload


@pytest.mark.parametrize("cell", CELLS)
def test_cc(benchmark: Any, bench_profile: Any, cell: Table4Scenario) -> None:
    edge_scheme = _scheme(cell, edge=cell.edge)
    _, body = compress_adaptive(edge_scheme.codec, _payload(cell))
    s = _scheme(cell, codec="none")
    if hasattr(s, "top_up"):  # Q's keys exist before the timed handshakes (as in Table 3)
        s.top_up(int(bench_profile.max_time_s * 10_000) + 200)

    def crypto_cost() -> bytes:
        session = s.establish(0)
        return session.responder.open(session.initiator.seal(body, 1), 1)

    _tag(benchmark, cell, Metric.CC, edge_scheme, _payload(cell))
    assert benchmark(crypto_cost) == body


@pytest.mark.parametrize(
    "total", PROFILES["full"].bulk_sizes, ids=[f"{n >> 20}MB" for n in PROFILES["full"].bulk_sizes]
)
def test_bulk(benchmark: Any, bench_profile: Any, total: int) -> None:
    """DTHQ (KL 256, far edge: LZ4) moving 1-100 MB of telemetry in 16 KiB records."""
    if total not in bench_profile.bulk_sizes:
        pytest.skip(f"the {total >> 20} MB bulk sweep runs in the full profile only")
    session = scheme("dthq", key_length=256, edge="far").establish(0)
    block = _payload(Table4Scenario(256, "far", "large"))
    chunks = [block] * (total // len(block))
    seal, open_ = session.initiator.seal, session.responder.open

    def move_all() -> int:
        return sum(len(open_(seal(chunk, 1), 1)) for chunk in chunks)

    tag(
        benchmark,
        Suite.BULK,
        total_bytes=len(block) * len(chunks),
        records=len(chunks),
        codec="lz4",
        key_length=256,
    )
    assert benchmark.pedantic(move_all, rounds=3, iterations=1) == len(block) * len(chunks)
