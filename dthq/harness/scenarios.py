"""The scenario matrix: defined once, used by bench/ (what to measure) and
reports/ (how to lay it out and what the paper published beside it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dthq.errors import UnsupportedError
from dthq.harness.telemetry import SIZES as TELEMETRY_SIZES
from dthq.protocol.compression import EDGE_PROFILES
from dthq.protocol.suites import KEY_LENGTHS

EDGES = tuple(EDGE_PROFILES)  # far, near
SIZES = tuple(TELEMETRY_SIZES)  # small, medium, large
KEMS = ("ML-KEM-768", "ML-KEM-1024", "ML-KEM-512")
TABLE3_KEY_LENGTH = 256
TABLE3_EDGE = "near"
TABLE3_SIZE = "small"


@dataclass(frozen=True)
class Table3Row:
    """One scheme as Table 3 compares it: a registered scheme name and its options."""

    key: str  # stable id used in results and the regression gate
    label: str
    scheme: str
    options: dict[str, Any] = field(default_factory=dict)
    paper: str | None = None  # the Table 3 row this corresponds to, if any


TABLE3: tuple[Table3Row, ...] = (
    Table3Row("rsa-2048", "RSA-2048", "rsa-2048", {}, paper="RSA-2048"),
    Table3Row("ecc-256", "ECC-256", "ecc-256", {}, paper="ECC-256"),
    Table3Row(
        "tls13-x25519", "TLS 1.3 (X25519)", "tls13", {"group": "X25519"}, paper="TLS (AES-GCM)"
    ),
    Table3Row(
        "tls13-x25519mlkem768", "TLS 1.3 (X25519MLKEM768)", "tls13", {"group": "X25519MLKEM768"}
    ),
    Table3Row("tls13-mlkem768", "TLS 1.3 (MLKEM768)", "tls13", {"group": "MLKEM768"}),
    Table3Row(
        "dthq-mlkem768-psk",
        "DTHQ ML-KEM-768 psk",
        "dthq",
        {"kem": "ML-KEM-768", "auth": "psk"},
        paper="Proposed DTHQ",
    ),
    Table3Row(
        "dthq-mlkem768-mldsa",
        "DTHQ ML-KEM-768 mldsa",
        "dthq",
        {"kem": "ML-KEM-768", "auth": "mldsa"},
    ),
)


@dataclass(frozen=True)
class Table4Cell:
    key_length: int
    edge: str
    size: str

    @property
    def key(self) -> str:
        return f"{self.key_length}-{self.edge}-{self.size}"


TABLE4: tuple[Table4Cell, ...] = tuple(
    Table4Cell(kl, edge, size) for kl in KEY_LENGTHS for edge in EDGES for size in SIZES
)


@dataclass(frozen=True)
class Profile:
    name: str
    max_time_s: float  # pytest-benchmark time budget per benchmark
    min_rounds: int
    messages_per_session: int  # M for the amortised latency
    bulk_sizes: tuple[int, ...] = ()  # bytes; full profile only


PROFILES: dict[str, Profile] = {
    "quick": Profile("quick", max_time_s=0.25, min_rounds=15, messages_per_session=100),
    "full": Profile(
        "full",
        max_time_s=2.0,
        min_rounds=100,
        messages_per_session=1000,
        bulk_sizes=(1 << 20, 10 << 20, 100 << 20),
    ),
}


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UnsupportedError(f"unknown profile {name!r}; choose quick or full") from None


# The paper's published figures (Tables 3 and 4), for side-by-side reports.
PAPER_TABLE3: dict[str, dict[str, float]] = {
    "RSA-2048": {"latency_ms": 18.7, "throughput_msg_s": 120, "comp_overhead_ms": 22.4},
    "ECC-256": {"latency_ms": 6.9, "throughput_msg_s": 480, "comp_overhead_ms": 8.1},
    "TLS (AES-GCM)": {"latency_ms": 4.8, "throughput_msg_s": 950, "comp_overhead_ms": 5.3},
    "Proposed DTHQ": {"latency_ms": 1.2, "throughput_msg_s": 3880, "comp_overhead_ms": 4.1},
}
# (KL, edge, size) -> the paper's AL (ms), CC (ms), Thrpt (msg/s); codec LZ4 far, Brotli near.
PAPER_TABLE4: dict[tuple[int, str, str], dict[str, float]] = {
    (128, "far", "small"): {"al_ms": 1.2, "cc_ms": 12, "throughput_msg_s": 67.737},
    (128, "near", "small"): {"al_ms": 4.2, "cc_ms": 45, "throughput_msg_s": 3880.330},
    (256, "far", "medium"): {"al_ms": 1.3, "cc_ms": 15, "throughput_msg_s": 682.756},
    (256, "near", "medium"): {"al_ms": 5.1, "cc_ms": 47, "throughput_msg_s": 2039.359},
    (512, "far", "large"): {"al_ms": 2.5, "cc_ms": 21, "throughput_msg_s": 1597.010},
    (512, "near", "large"): {"al_ms": 8.4, "cc_ms": 52, "throughput_msg_s": 847.314},
}
