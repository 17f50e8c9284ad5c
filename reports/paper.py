"""The paper's published numbers: its Table 3 and Table 4, and the row order its Table 3
claims."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from dthq.harness.results import Metric
from reports.section import Column

T = TypeVar("T")

# The paper's Table 3 (i7-9700K, Windows, Python 3.10), by its row names.
PAPER_TABLE3: dict[str, dict[Metric, float]] = {
    "RSA-2048": {Metric.LATENCY: 18.7, Metric.THROUGHPUT: 120, Metric.COMP_OVERHEAD: 22.4},
    "ECC-256": {Metric.LATENCY: 6.9, Metric.THROUGHPUT: 480, Metric.COMP_OVERHEAD: 8.1},
    "TLS (AES-GCM)": {Metric.LATENCY: 4.8, Metric.THROUGHPUT: 950, Metric.COMP_OVERHEAD: 5.3},
    "Proposed DTHQ": {Metric.LATENCY: 1.2, Metric.THROUGHPUT: 3880, Metric.COMP_OVERHEAD: 4.1},
}
# The paper's Table 4, (KL, edge, size) -> AL (ms), CC (ms), Thrpt (msg/s); LZ4 far, Brotli near.
PAPER_TABLE4: dict[tuple[int, str, str], dict[Metric, float]] = {
    (128, "far", "small"): {Metric.AL: 1.2, Metric.CC: 12, Metric.THROUGHPUT: 67.737},
    (128, "near", "small"): {Metric.AL: 4.2, Metric.CC: 45, Metric.THROUGHPUT: 3880.330},
    (256, "far", "medium"): {Metric.AL: 1.3, Metric.CC: 15, Metric.THROUGHPUT: 682.756},
    (256, "near", "medium"): {Metric.AL: 5.1, Metric.CC: 47, Metric.THROUGHPUT: 2039.359},
    (512, "far", "large"): {Metric.AL: 2.5, Metric.CC: 21, Metric.THROUGHPUT: 1597.010},
    (512, "near", "large"): {Metric.AL: 8.4, Metric.CC: 52, Metric.THROUGHPUT: 847.314},
}
# Our Table 3 rows in the order of the paper's (fastest first), and the paper's names.
ORDER = ["dthq-mlkem768-psk", "tls13-x25519", "ecc-256", "rsa-2048"]
PAPER_ORDER = ["Proposed DTHQ", "TLS (AES-GCM)", "ECC-256", "RSA-2048"]
TABLE3_CLAIMED = (Metric.LATENCY, Metric.THROUGHPUT, Metric.COMP_OVERHEAD)
TABLE4_CLAIMED = (Metric.AL, Metric.CC, Metric.THROUGHPUT)


def paper_columns(
    headers: Sequence[str], metrics: Sequence[Metric], figures: Callable[[T], dict[Metric, float]]
) -> list[Column[T]]:
    """The paper's values beside ours: a column per metric, "-" where it gives none."""
    return [
        Column(header, lambda item, m=m: figures(item).get(m, "-"))
        for header, m in zip(headers, metrics, strict=True)
    ]
