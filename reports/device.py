"""What a device pays: the far edge is a microcontroller, not this server. A MODELLED
column of device-side (A's) handshake cost on an Arm Cortex-M4, from published cycle
counts, beside the server-side handshake measured in the run.

The model counts A's public-key operations only: each costs its published cycle count
and the sum is divided by the clock. Hashing, HKDF and the AEAD are left out (tens of
thousands of cycles against millions). Sources, each a file at a commit:
- pqm4 (mupq/pqm4, benchmarks.md @ 6841a6bc), m4 implementations, AVG column: Kyber
  round 3 stands in for ML-KEM (FIPS 203 changed encodings and checks, not the
  arithmetic), Dilithium3 for ML-DSA-65, and hqc-rmrs-128 (clean, the 2020 HQC) for
  HQC-128. Dilithium signing time varies with rejection sampling: the average is used.
- P-256 (Emill/P256-Cortex-M4, README.md @ ecd3ec22): nRF52840, GCC -O2.
- X25519 (Emill/X25519-Cortex-M4, README.md @ 25401d85): one scalar multiplication.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dthq.harness.results import Metric, Results
from reports.section import Section, Table, noted

CLOCK_HZ = 64_000_000  # nRF52840, the board the P-256 figures were measured on
PQM4 = ("mupq/pqm4", "benchmarks.md", "6841a6bc3cc5bc0b0e01e5ee33567882e9bca8d3")
P256 = ("Emill/P256-Cortex-M4", "README.md", "ecd3ec2222fc9e18b6b44c86bb7183971a2041fc")
X25519 = ("Emill/X25519-Cortex-M4", "README.md", "25401d85473a4b9c5d8c66e817481c1c7437ed75")


@dataclass(frozen=True)
class Operation:
    name: str
    cycles: int
    source: tuple[str, str, str]
    entry: str  # the row the figure comes from


OPS = {
    op.name: op
    for op in (
        Operation("ML-KEM-512 keygen", 463_343, PQM4, "kyber512 m4"),
        Operation("ML-KEM-512 decaps", 525_141, PQM4, "kyber512 m4"),
        Operation("ML-KEM-768 keygen", 763_979, PQM4, "kyber768 m4"),
        Operation("ML-KEM-768 encaps", 923_856, PQM4, "kyber768 m4"),
        Operation("ML-KEM-768 decaps", 862_176, PQM4, "kyber768 m4"),
        Operation("HQC-128 keygen", 2_958_761, PQM4, "hqc-rmrs-128 clean"),
        Operation("HQC-128 decaps", 7_814_315, PQM4, "hqc-rmrs-128 clean"),
        Operation("ML-DSA-65 sign", 6_480_747, PQM4, "dilithium3 m4"),
        Operation("ML-DSA-65 verify", 1_913_130, PQM4, "dilithium3 m4"),
        Operation("P-256 keygen", 327_000, P256, "Key generation ECDH/ECDSA"),
        Operation("P-256 ECDH", 906_000, P256, "Shared secret ECDH"),
        Operation("ECDSA P-256 sign", 375_000, P256, "Sign ECDSA"),
        Operation("ECDSA P-256 verify", 976_000, P256, "Verify ECDSA"),
        Operation("X25519", 548_873, X25519, "one scalar multiplication"),
    )
}

# A's public-key work in one handshake, per Table 3 row (rows absent here have no
# published Cortex-M4 figure to model them with, e.g. RSA-2048 decryption).
DEVICE_WORK: dict[str, dict[str, int]] = {
    "ecc-256": {"P-256 keygen": 1, "P-256 ECDH": 1},
    "tls13-x25519": {"X25519": 2, "ECDSA P-256 verify": 1, "ECDSA P-256 sign": 1},
    "tls13-x25519mlkem768": {
        "X25519": 2,
        "ML-KEM-768 keygen": 1,
        "ML-KEM-768 decaps": 1,
        "ML-DSA-65 verify": 1,
        "ML-DSA-65 sign": 1,
    },
    "tls13-mlkem768": {
        "ML-KEM-768 keygen": 1,
        "ML-KEM-768 decaps": 1,
        "ML-DSA-65 verify": 1,
        "ML-DSA-65 sign": 1,
    },
    # EDHOC method 3 initiator: ephemeral key, then G_XY, G_RX and G_IY.
    "edhoc-oscore": {"P-256 keygen": 1, "P-256 ECDH": 3},
    "dthq-mlkem768-psk": {"ML-KEM-768 keygen": 1, "ML-KEM-768 decaps": 1},
    "dthq-mlkem768-mldsa": {
        "ML-KEM-768 keygen": 1,
        "ML-KEM-768 decaps": 1,
        "ML-DSA-65 verify": 1,
        "ML-DSA-65 sign": 1,
    },
    "dthq-mlkem768-kem": {
        "ML-KEM-768 keygen": 1,
        "ML-KEM-768 decaps": 2,  # the ephemeral ciphertext and B's to A's static key
        "ML-KEM-768 encaps": 1,  # to B's static key
    },
    "dthq-mlkem768-kem-psk": {
        "ML-KEM-768 keygen": 1,
        "ML-KEM-768 decaps": 1,
        "ML-KEM-768 encaps": 1,
    },
    "dthq-mlkem512-psk": {"ML-KEM-512 keygen": 1, "ML-KEM-512 decaps": 1},
    "dthq-hqc128-psk": {"HQC-128 keygen": 1, "HQC-128 decaps": 1},
    "dthq-mlkem768-psk-pqcrypto": {"ML-KEM-768 keygen": 1, "ML-KEM-768 decaps": 1},
}
# The device runs one library whatever the server's backend: same work, same cycles.
DEVICE_WORK["dthq-mlkem768-mldsa-pqcrypto"] = DEVICE_WORK["dthq-mlkem768-mldsa"]


def device_cycles(row_key: str) -> int | None:
    work = DEVICE_WORK.get(row_key)
    if work is None:
        return None
    return sum(OPS[name].cycles * count for name, count in work.items())


DEVICE_HEADERS = [
    "Scheme",
    "Quantum-safe",
    "Device public-key operations (A)",
    "Cortex-M4 Mcycles (MODELLED)",
    "Cortex-M4 ms at 64 MHz (MODELLED)",
    "Server handshake ms (measured, A+B)",
]


def device_rows(results: Results) -> list[list[Any]]:
    rows = []
    for r in results.table3:
        cycles = device_cycles(r.key)
        work = DEVICE_WORK.get(r.key)
        rows.append(
            [
                r.scheme,
                r.quantum_safe,
                ", ".join(f"{n} x{c}" if c > 1 else n for n, c in work.items())
                if work
                else "no published Cortex-M4 figure",
                f"{cycles / 1e6:.2f}" if cycles else "-",
                f"{cycles / CLOCK_HZ * 1e3:.1f}" if cycles else "-",
                f"{r[Metric.HANDSHAKE].median:.3f}",
            ]
        )
    return rows


def _cite(source: tuple[str, str, str]) -> str:
    repo, path, commit = source
    return f"{repo} {path} @ {commit[:8]}"


DEVICE_NOTE = (
    "MODELLED, not measured: A's public-key operations at their published Cortex-M4 cycle "
    f"counts, divided by a {CLOCK_HZ // 1_000_000} MHz clock; hashing, HKDF and the AEAD "
    "are not counted. Sources: "
    + "; ".join(
        f"{_cite(src)} ({', '.join(sorted({op.entry for op in OPS.values() if op.source == src}))})"
        for src in (PQM4, P256, X25519)
    )
    + ". Kyber round 3 stands in for ML-KEM, Dilithium3 for ML-DSA-65, hqc-rmrs-128 for "
    "HQC-128. The server column is this run's measured handshake (both parties, in-process)."
)


def section(results: Results) -> Section:
    body = noted(Table(DEVICE_HEADERS, device_rows(results)), DEVICE_NOTE)
    return Section("What a device pays (Cortex-M4, MODELLED)", body, "device.md")
