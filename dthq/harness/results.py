"""The typed results model (after pyperf's Run / Benchmark / BenchmarkSuite).

A :class:`Results` holds one run: its :class:`Metadata`, the primitives (the floor),
Table 3 rows, Table 4 cells and the bulk sweep. Every timing is a
:class:`Distribution`; figures are named by :class:`Metric`, never by strings.
bench/ingest.py is the one place that builds it from pytest-benchmark output;
results_json.py reads and writes it (versioned, with the version-1 migration).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Metric(StrEnum):
    """Every figure a row or cell can carry; the value is its key in results.json."""

    HANDSHAKE = "handshake_ms"
    HANDSHAKE_TCP = "handshake_tcp_ms"
    LATENCY = "latency_ms"
    MESSAGE = "message_ms"
    COMP_OVERHEAD = "comp_overhead_ms"
    THROUGHPUT = "throughput_msg_s"
    AL = "al_ms"
    CC = "cc_ms"

    @property
    def unit(self) -> str:
        return "msg/s" if self is Metric.THROUGHPUT else "ms"

    @property
    def is_rate(self) -> bool:
        """Higher is better (a rate), rather than lower (a time)."""
        return self is Metric.THROUGHPUT


def quantile(samples: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile of unsorted samples (q in [0, 1])."""
    ordered = sorted(samples)
    pos = (len(ordered) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(frozen=True)
class Distribution:
    """A summary of repeated measurements, in the unit of the field that holds it.

    ``q1``/``q3``/``p95``/``p99`` and ``min`` may be absent only in migrated version-1
    primitives and in rates (a rate has no meaningful fastest round).
    """

    median: float
    iqr: float
    rounds: int
    min: float | None = None
    q1: float | None = None
    q3: float | None = None
    p95: float | None = None
    p99: float | None = None

    @classmethod
    def from_samples(cls, samples: Sequence[float], scale: float = 1.0) -> Distribution:
        """Summarise raw samples (times in seconds; ``scale`` converts to the unit)."""
        if not samples:
            raise ValueError("no samples")
        data = [s * scale for s in samples]
        q1, q3 = (
            statistics.quantiles(data, n=4, method="inclusive")[::2] if len(data) > 1 else data * 2
        )
        return cls(
            median=statistics.median(data),
            iqr=q3 - q1,
            rounds=len(data),
            min=min(data),
            q1=q1,
            q3=q3,
            p95=quantile(data, 0.95),
            p99=quantile(data, 0.99),
        )

    @property
    def relative_noise(self) -> float:
        return self.iqr / self.median if self.median else 0.0

    @property
    def fastest(self) -> float:
        """The fastest round where known (the gate's figure), else the median."""
        return self.median if self.min is None else self.min

    def as_rate(self) -> Distribution:
        """Per-second rate from a per-operation time in seconds: 1/median, quartiles swapped."""
        if self.q1 is None or self.q3 is None:
            raise ValueError("a rate needs the quartiles of its time")
        return Distribution(
            median=1 / self.median,
            iqr=1 / self.q1 - 1 / self.q3,
            rounds=self.rounds,
            q1=1 / self.q3,
            q3=1 / self.q1,
        )


@dataclass(frozen=True)
class FlightSize:
    sender: str
    name: str
    size: int


@dataclass(frozen=True)
class Primitive:
    """One primitive alone (KEM, signature, AEAD, codec, KDF), with its timeit cross-check."""

    name: str
    time_us: Distribution
    timeit_median_us: float | None = None
    timeit_min_us: float | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


class _Timed:
    """A row or cell whose figures are looked up by metric: ``row[Metric.HANDSHAKE]``."""

    timings: Mapping[Metric, Distribution]

    def __getitem__(self, metric: Metric) -> Distribution:
        return self.timings[metric]

    def get(self, metric: Metric) -> Distribution | None:
        return self.timings.get(metric)


@dataclass(frozen=True)
class Table3Row(_Timed):
    """One scheme as Table 3 compares it."""

    key: str
    scheme: str  # the label shown
    quantum_safe: str
    timings: Mapping[Metric, Distribution]
    latency_amortised_ms: float  # handshake / M + one message, from two measured medians
    handshake_bytes: int
    record_overhead_bytes: int
    record_bytes: int
    payload_bytes: int
    modelled_link_ms: float  # MODELLED: handshake + one record over the row's edge link
    paper_row: str | None = None
    flights: tuple[FlightSize, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Table4Cell(_Timed):
    """DTHQ at one key length x edge x data size."""

    key: str
    key_length: int
    edge: str
    size: str
    codec: str
    aead: str
    timings: Mapping[Metric, Distribution]
    comm_bits: int
    modelled_link_ms: float  # MODELLED, never added to measured time
    link: str
    payload_bytes: int
    compressed_bytes: int
    record_bytes: int
    compressed: bool


@dataclass(frozen=True)
class BulkRun:
    total_bytes: int
    records: int
    codec: str
    key_length: int
    time_ms: Distribution
    mb_per_s: float


@dataclass(frozen=True)
class ForgedHello:
    """What one replayed or forged HELLO costs B, under one retry policy."""

    auth: str
    retry: str  # the policy: "never" (full work) or "always" (a cookie first)
    cpu_us: Distribution  # B's time to handle the HELLO, one core
    hello_bytes: int
    response_bytes: int  # REPLY, or RETRY under the cookie policy

    @property
    def amplification(self) -> float:
        return self.response_bytes / self.hello_bytes


@dataclass(frozen=True)
class Metadata:
    """How the run was made: profile, M, wall time, commit, and the machine (pyperf-style)."""

    profile: str
    messages_per_session: int
    machine: Mapping[str, Any]  # harness.metadata.collect(): CPU, OS, Python, OpenSSL, libraries
    wall_time_s: float | None = None
    commit: str | None = None
    node: str | None = None
    benchmark_datetime: str | None = None
    pytest_benchmark: str | None = None
    slowdown: str | None = None

    @property
    def libraries(self) -> Mapping[str, str | None]:
        return self.machine.get("libraries") or {}


@dataclass(frozen=True)
class Results:
    metadata: Metadata
    primitives: tuple[Primitive, ...] = ()
    table3: tuple[Table3Row, ...] = ()
    table4: tuple[Table4Cell, ...] = ()
    bulk: tuple[BulkRun, ...] = ()
    forged_hello: tuple[ForgedHello, ...] = ()
    created: str = ""
    generator: str = ""

    def primitive(self, name: str) -> Primitive | None:
        return next((p for p in self.primitives if p.name == name), None)

    def row(self, key: str) -> Table3Row | None:
        return next((r for r in self.table3 if r.key == key), None)

    def cell(self, key: str) -> Table4Cell | None:
        return next((c for c in self.table4 if c.key == key), None)
