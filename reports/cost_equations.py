"""The paper's Table 5 cost equations, and each evaluated with primitive times measured in
one run.

Terms and the primitives that measure them (dthq/harness/primitive_set.py):
T_M, T_ECM, T_ECC, T_sm: a variable-base P-256 scalar multiplication (OpenSSL ECDH);
T_ECA: a P-256 point addition (pycryptodome); T_H: SHA-256 of 64 bytes; T_HMac:
HMAC-SHA256 of 64 bytes; T_E (T_en), T_D: AES-256-GCM encryption and decryption of one
small reading; T_B: a BLS12-381 pairing (arkworks). The cited papers' own curves,
pairings and inputs are not given, so these are this machine's nearest standard ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from dthq.harness.results import Metric, Results

TERMS = {
    "TM": "ec/P-256/scalar-mult",
    "TECM": "ec/P-256/scalar-mult",
    "TECC": "ec/P-256/scalar-mult",
    "Tsm": "ec/P-256/scalar-mult",
    "TECA": "ec/P-256/point-add",
    "TH": "hash/SHA-256/64B",
    "THMac": "mac/HMAC-SHA256/64B",
    "TE": "aead/AES-256-GCM/encrypt/small",
    "Ten": "aead/AES-256-GCM/encrypt/small",
    "TD": "aead/AES-256-GCM/decrypt/small",
    "TB": "pairing/BLS12-381",
    "TKeyGen": "kem/ML-KEM-768/keygen",
    "TEncaps": "kem/ML-KEM-768/encaps",
    "TDecaps": "kem/ML-KEM-768/decaps",
}
CC_CELL = "256-near-small"  # Table 4's CC for the paper's DTHQ at KL 256, near edge


@dataclass(frozen=True)
class Protocol:
    label: str
    equation: str
    fixed: dict[str, int]  # term -> count
    per_n: dict[str, int]  # term -> count per n (only [50] has one)
    paper_ms: str


PROTOCOLS = (
    Protocol("2024 [48]", "9TM + 13TH + TB", {"TM": 9, "TH": 13, "TB": 1}, {}, "13.476"),
    Protocol("2021 [49]", "10TM + 9TH", {"TM": 10, "TH": 9}, {}, "0.88-51.51"),
    Protocol(
        "2024 [50]", "2TECM + (3n + 1)TECA", {"TECM": 2, "TECA": 1}, {"TECA": 3}, "38.6 + 13.2n"
    ),
    Protocol("2024 [51]", "Device: 2Tsm + 4TH + Ten", {"Tsm": 2, "TH": 4, "Ten": 1}, {}, "N/A"),
    Protocol("2024 [53]", "2THMac + TE + TD", {"THMac": 2, "TE": 1, "TD": 1}, {}, "20"),
    Protocol(
        "Proposed DTHQ (Eq. 9)",
        "2TECC + 3TH + TE + TD",
        {"TECC": 2, "TH": 3, "TE": 1, "TD": 1},
        {},
        "7-10",
    ),
    Protocol(
        "DTHQ as built (ML-KEM-768)",
        "TKeyGen + TEncaps + TDecaps + TE + TD",
        {"TKeyGen": 1, "TEncaps": 1, "TDecaps": 1, "TE": 1, "TD": 1},
        {},
        "-",
    ),
)


def times_ms(results: Results) -> dict[str, float]:
    by_name = {p.name: p.time_us.median / 1000 for p in results.primitives}
    return {term: by_name[name] for term, name in TERMS.items() if name in by_name}


def evaluate(terms: dict[str, int], times: dict[str, float]) -> float | None:
    if any(t not in times for t in terms):
        return None
    return sum(count * times[t] for t, count in terms.items())


def missing(protocol: Protocol, times: dict[str, float]) -> list[str]:
    return sorted({t for t in (*protocol.fixed, *protocol.per_n) if t not in times})


def measured_cc(results: Results) -> float | None:
    """Table 4's CC at CC_CELL: DTHQ's cost as run (one handshake + seal/open)."""
    cell = results.cell(CC_CELL)
    return cell[Metric.CC].median if cell is not None else None


def costs(results: Results, n: int = 1) -> dict[str, float | None]:
    """Each protocol's equation evaluated on this run's primitives ([50] at ``n``)."""
    times = times_ms(results)
    out: dict[str, float | None] = {}
    for p in PROTOCOLS:
        base, per_n = evaluate(p.fixed, times), evaluate(p.per_n, times)
        out[p.label] = None if base is None or per_n is None else base + n * per_n
    return out
