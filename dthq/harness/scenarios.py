"""The scenario matrix: defined once, used by bench/ (what to measure) and
reports/ (how to lay it out). The paper's published numbers live in reports/paper.py,
its claims in reports/verdicts/claims.py."""

from __future__ import annotations

from collections.abc import Iterable
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


# The options the harness sets on a scheme for Table 3, when the scheme takes them.
KEY_LENGTH_OPTION = "key_length"
CODEC_OPTIONS = "edge/codec"  # edge=... with compression, codec="none" without
STANDARD_OPTIONS = frozenset({KEY_LENGTH_OPTION, CODEC_OPTIONS})


@dataclass(frozen=True)
class Table3Scenario:
    """One scheme as Table 3 compares it: a registered scheme name and its options."""

    key: str  # stable id used in results and the regression gate
    label: str
    scheme: str
    options: dict[str, Any] = field(default_factory=dict)
    paper: str | None = None  # the Table 3 row this corresponds to, if any
    takes: frozenset[str] = STANDARD_OPTIONS  # which harness options the scheme accepts
    edge: str = TABLE3_EDGE

    def scheme_options(self, *, compress: bool) -> dict[str, Any]:
        """The options to build this row's scheme with, compressing or not."""
        options = dict(self.options)
        if KEY_LENGTH_OPTION in self.takes:
            options[KEY_LENGTH_OPTION] = TABLE3_KEY_LENGTH
        if CODEC_OPTIONS in self.takes:
            options.update({"edge": self.edge} if compress else {"codec": "none"})
        return options


TLS_OPTIONS = frozenset({KEY_LENGTH_OPTION})  # TLS 1.3 has no record compression

TABLE3: tuple[Table3Scenario, ...] = (
    Table3Scenario("rsa-2048", "RSA-2048", "rsa-2048", {}, paper="RSA-2048"),
    Table3Scenario("ecc-256", "ECC-256", "ecc-256", {}, paper="ECC-256"),
    Table3Scenario(
        "tls13-x25519",
        "TLS 1.3 (X25519)",
        "tls13",
        {"group": "X25519"},
        paper="TLS (AES-GCM)",
        takes=TLS_OPTIONS,
    ),
    Table3Scenario(
        "tls13-x25519mlkem768",
        "TLS 1.3 (X25519MLKEM768)",
        "tls13",
        {"group": "X25519MLKEM768"},
        takes=TLS_OPTIONS,
    ),
    Table3Scenario(
        "tls13-mlkem768", "TLS 1.3 (MLKEM768)", "tls13", {"group": "MLKEM768"}, takes=TLS_OPTIONS
    ),
    Table3Scenario(
        "dthq-mlkem768-psk",
        "DTHQ ML-KEM-768 psk",
        "dthq",
        {"kem": "ML-KEM-768", "auth": "psk"},
        paper="Proposed DTHQ",
    ),
    # The IETF's constrained-device stack: its suite fixes AES-CCM-16-64-128, no compression.
    Table3Scenario(
        "edhoc-oscore",
        "EDHOC + OSCORE (P-256 static DH)",
        "edhoc-oscore",
        {},
        takes=frozenset(),
    ),
    Table3Scenario(
        "dthq-qkd-psk",
        "DTHQ QKD psk (simulated)",
        "dthq-qkd",
        {"mode": "qkd", "auth": "psk", "pool_keys": 40_000},
    ),
    Table3Scenario(
        "dthq-qkd-mlkem768-psk",
        "DTHQ QKD+ML-KEM-768 psk (simulated)",
        "dthq-qkd",
        {"mode": "qkd+mlkem", "auth": "psk", "pool_keys": 40_000},
    ),
    Table3Scenario(
        "dthq-mlkem768-mldsa",
        "DTHQ ML-KEM-768 mldsa",
        "dthq",
        {"kem": "ML-KEM-768", "auth": "mldsa"},
    ),
    # KEM authentication (KEMTLS-like): B by its static ML-KEM key, A by its own or the PSK.
    Table3Scenario(
        "dthq-mlkem768-kem",
        "DTHQ ML-KEM-768 kem",
        "dthq",
        {"kem": "ML-KEM-768", "auth": "kem"},
    ),
    Table3Scenario(
        "dthq-mlkem768-kem-psk",
        "DTHQ ML-KEM-768 kem-psk",
        "dthq",
        {"kem": "ML-KEM-768", "auth": "kem-psk"},
    ),
    # The second post-quantum backend (PQClean via pqcrypto): the smaller ML-KEM, a
    # code-based KEM, and the same ML-KEM-768 through it (the KEM backend as an axis).
    Table3Scenario(
        "dthq-mlkem512-psk",
        "DTHQ ML-KEM-512 psk (pqcrypto)",
        "dthq",
        {"kem": "ML-KEM-512", "auth": "psk", "kem_backend": "pqcrypto"},
    ),
    Table3Scenario(
        "dthq-hqc128-psk",
        "DTHQ HQC-128 psk (pqcrypto)",
        "dthq",
        {"kem": "HQC-128", "auth": "psk", "kem_backend": "pqcrypto"},
    ),
    Table3Scenario(
        "dthq-mlkem768-psk-pqcrypto",
        "DTHQ ML-KEM-768 psk (pqcrypto)",
        "dthq",
        {"kem": "ML-KEM-768", "auth": "psk", "kem_backend": "pqcrypto"},
    ),
    # ...and the signed mode with both primitives through PQClean (ML-DSA-65 too).
    Table3Scenario(
        "dthq-mlkem768-mldsa-pqcrypto",
        "DTHQ ML-KEM-768 mldsa (pqcrypto)",
        "dthq",
        {
            "kem": "ML-KEM-768",
            "auth": "mldsa",
            "kem_backend": "pqcrypto",
            "sig_backend": "pqcrypto",
        },
    ),
)
# liboqs (AVX2) when its library is present: ML-KEM-768 through it is one more row.
OPTIONAL_BACKEND_ROWS = {
    "liboqs": Table3Scenario(
        "dthq-mlkem768-psk-liboqs",
        "DTHQ ML-KEM-768 psk (liboqs)",
        "dthq",
        {"kem": "ML-KEM-768", "auth": "psk", "kem_backend": "liboqs"},
    )
}


def table3_scenarios(registered: Iterable[str]) -> tuple[Table3Scenario, ...]:
    """The matrix's rows, then one row per other registered scheme (a plug-in), built with
    its defaults: an installed scheme appears in Table 3 without editing this file."""
    from dthq.crypto.kem import KEMS

    covered = {row.scheme for row in TABLE3}
    optional = [
        row
        for backend, row in OPTIONAL_BACKEND_ROWS.items()
        if backend in KEMS.backends("ML-KEM-768")
    ]
    extra = [
        Table3Scenario(name, name, name, takes=frozenset())
        for name in registered
        if name not in covered
    ]
    return (*TABLE3, *optional, *extra)


@dataclass(frozen=True)
class SessionKeySource:
    """Table 4's KEM axis: where the session key comes from, and the scheme that does it."""

    label: str
    suffix: str  # appended to the cell key; "" for the paper's own (ML-KEM-768)
    scheme: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def simulated(self) -> bool:
        return "simulated" in self.label


PAPER_KEM = SessionKeySource("ML-KEM-768", "", "dthq")
TABLE4_KEMS: tuple[SessionKeySource, ...] = (
    PAPER_KEM,
    SessionKeySource("QKD (simulated)", "-qkd", "dthq-qkd", {"mode": "qkd", "pool_keys": 40_000}),
    SessionKeySource(
        "QKD+ML-KEM-768 (simulated)",
        "-qkd-mlkem768",
        "dthq-qkd",
        {"mode": "qkd+mlkem", "pool_keys": 40_000},
    ),
)


@dataclass(frozen=True)
class Table4Scenario:
    key_length: int
    edge: str
    size: str
    kem: SessionKeySource = PAPER_KEM

    @property
    def key(self) -> str:
        return f"{self.key_length}-{self.edge}-{self.size}{self.kem.suffix}"


TABLE4: tuple[Table4Scenario, ...] = tuple(
    Table4Scenario(kl, edge, size, kem)
    for kem in TABLE4_KEMS
    for kl in KEY_LENGTHS
    for edge in EDGES
    for size in SIZES
)

# The SIMULATED QKD figures (bench/test_qkd.py): sweeps drawn beside theory, the cost of
# one key, and Cascade alone beside cascade-python's published figures.
QKD_QBERS = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10, 0.11)
QKD_FIBRE_KM = (0.0, 10.0, 25.0, 50.0, 75.0, 100.0)
QKD_FIBRE_QBER = 0.02
QKD_KEY_QBER = 0.03
CASCADE_QBERS = (0.01, 0.03, 0.05)
CASCADE_BITS = 10_000  # cascade-python's published timings are per 10,000-bit key


# The twin pipeline through a broker: (devices, Hz per device). The quick profile leaves
# out 1,000 devices at 10 Hz (10,000 readings/s offered, minutes to drain on 2 cores).
PIPELINE_LOADS = (
    (10, 1.0),
    (10, 10.0),
    (100, 1.0),
    (100, 3.0),  # between 100 and 1,000 readings/s: where the held rate is found
    (100, 5.0),
    (100, 10.0),
    (1000, 1.0),
    (1000, 10.0),
)
PIPELINE_BROKERS = ("amqtt", "mosquitto")
PIPELINE_P99_MS = 100.0  # "the highest rate held with p99 under 100 ms"
# Held rates (bench/test_held.py): each subject's search range and start (messages or
# readings per second), the pipeline's devices (at most 100 Hz each, so 100 devices
# reach 10,000/s), and the one load both FHIR runs take (with Bundles and without): one
# the pipeline keeps up with, so neither run's CPU includes a backlog's.
HELD_PAIR_RANGE = (100.0, 64_000.0, 2_000.0)  # lo, hi, start
HELD_PIPELINE_RANGE = (10.0, 10_000.0, 100.0)
HELD_PATIENTS = 100
HELD_FHIR_LOAD = (100, 1.0)  # devices, Hz each
# The §7.1 comparison: one load, both policies, in one run.
POLICY_LOAD = {"patients": 40, "rate_hz": 2.0, "deteriorating": 0.25, "qos": 1}


# The paper's §7.1 as it ran it (Fig. 4a-c): the system with and without the twin "when
# data size varied (1 KB to 100 MB)". Each gateway policy at each message size (a
# reading's JSON with its PPG window, decimal units); the quick profile the small sizes.
SWEEP_POLICIES = ("no-twin", "fixed", "adaptive")
SWEEP_SIZES = (1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000)
SWEEP_QUICK_SIZES = (SWEEP_SIZES[0], SWEEP_SIZES[2])  # 1 KB and 100 KB
SWEEP_BYTES_PER_S = 2_000_000  # offered; above it the rate falls as the size grows
SWEEP_MIN_MESSAGES = 2  # per device and run, at the largest sizes
# A quarter of the patients deteriorate from the start, fast (SIMULATED), so the twin's
# watch list has patients on it within seconds.
SWEEP_SCRIPT = {"deteriorating": 0.25, "onset_s": 0.0, "deterioration_speed": 100.0, "qos": 1}


def sweep_load(message_bytes: int, seconds: float) -> dict[str, Any]:
    """The pipeline settings (SimConfig's) of one sweep point, any policy: 8 devices at
    2 Hz while that offers at most SWEEP_BYTES_PER_S, fewer and slower above, each
    sending SWEEP_MIN_MESSAGES at least; the drain allows for the size."""
    patients = 8 if message_bytes <= 1_000_000 else 4
    rate_hz = min(2.0, SWEEP_BYTES_PER_S / (patients * message_bytes))
    return {
        **SWEEP_SCRIPT,
        "patients": patients,
        "rate_hz": rate_hz,
        "duration_s": max(seconds, SWEEP_MIN_MESSAGES / rate_hz),
        "message_bytes": message_bytes,
        "drain_s": 10.0 + message_bytes / SWEEP_BYTES_PER_S,
    }


# Device fleets on Locust (dthq fleet): the scenarios each profile runs, at what size,
# and the capacity curve's sizes (1 Hz each), per broker and gateway count. A sweep
# stops at its first size that does not hold; the full profile's last sizes find out
# how many this machine holds.
FLEET_QUICK_SCENARIOS = ("steady", "handshake-storm-cookie")
FLEET_SCENARIOS = (
    "steady",
    "handshake-storm",
    "handshake-storm-cookie",
    "rekey-storm",
    "slow-consumer",
)
FLEET_CAPACITY_SIZES = (10, 100, 250, 500, 1000, 2000, 4000)
FLEET_POOL_SIZES = (250, 500, 1000, 2000)  # two gateways behind a shared subscription

# The store's put timed on stores of these sizes (readings already held); filling 1 M
# takes 20-25 s on a 2-core VM (the whole quick suite would be ~45 s), so quick stops
# at 100 k (8-21 s).
STORE_QUICK_ROWS = (0, 10_000, 100_000)
STORE_ROWS = (*STORE_QUICK_ROWS, 1_000_000)


# The schemes suite's load: every scheme through the same mosquitto at it, in one run.
# One all three hold on 2 shared cores with every party in one process (50 devices at
# 10 Hz did not: DTHQ delivered 319 of 500 readings/s, 3.3 s p50); the held rate
# bisection, not this load, finds each scheme's ceiling.
SCHEME_LOAD = {"patients": 20, "rate_hz": 5.0}


@dataclass(frozen=True)
class Profile:
    name: str
    max_time_s: float  # pytest-benchmark time budget per benchmark
    min_rounds: int
    messages_per_session: int  # M for the amortised latency
    bulk_sizes: tuple[int, ...] = ()  # bytes; full profile only
    qkd_sifted_bits: int = 40_000  # sifted bits each QKD sweep point aims for
    cascade_runs: int = 20  # 10,000-bit instances Cascade's mean f is taken over
    pipeline_s: float = 2.0  # seconds of sending per pipeline load point
    # The quick profile: the in-between loads (held rates are searched in the held suite)
    # and 1,000 devices at 10 Hz are the full profile's.
    pipeline_loads: tuple[tuple[int, float], ...] = tuple(
        load for load in PIPELINE_LOADS[:-1] if load not in ((100, 3.0), (100, 5.0))
    )
    policy_s: float = 12.0  # seconds of sending per policy run (the load steps at 2 s)
    sweep_sizes: tuple[int, ...] = SWEEP_QUICK_SIZES  # the §7.1 sweep's message sizes
    sweep_s: float = 3.0  # seconds of sending per sweep point (at least)
    fleet_scenarios: tuple[str, ...] = FLEET_QUICK_SCENARIOS
    fleet_devices: int = 50
    fleet_s: float = 6.0  # seconds each device sends
    fleet_capacity_sizes: tuple[int, ...] = ()  # the full profile's curve
    fleet_pool_sizes: tuple[int, ...] = ()
    # The memory soak: readings through the memory bus, over how many devices, and the
    # warm-up (past every device's twin history of 600, so a bounded fill) before the slope.
    soak_readings: int = 40_000
    soak_patients: int = 10
    soak_warmup: int = 16_000
    # The fault suite: its runs' brokers (a missing Mosquitto is skipped, with the reason)
    # and seconds of faults each.
    chaos_brokers: tuple[str, ...] = ("amqtt",)
    chaos_s: float = 20.0
    # Failover on a 3-node RabbitMQ cluster (its cold start alone is about 25 s, which the
    # quick profile's 10 minutes cannot spare): nodes, or 0 for none.
    failover_nodes: int = 0
    # Held rates: the brokers searched (the quick profile: Mosquitto, or amqtt where it
    # is missing), seconds offered per probe, the searches' relative precision, and the
    # FHIR cost runs' seconds and brokers.
    held_brokers: tuple[str, ...] = ("mosquitto",)
    held_probe_s: float = 2.0
    held_precision: float = 0.4  # about 5 probes a search
    held_fhir_s: float = 2.0
    held_fhir_brokers: tuple[str, ...] = ("mosquitto",)
    schemes_s: float = 3.0  # seconds of sending per scheme (then its two recoveries)
    schemes_held: tuple[str, ...] = ("dthq", "tls")  # the schemes whose held rate is searched
    # The store suite: sizes, and rounds (each times a few puts at every size, in turn).
    store_rows: tuple[int, ...] = STORE_QUICK_ROWS
    store_rounds: int = 30
    # The paired suite: interleaved rounds (each >= 1 ms a call) of the timing-ratio
    # targets' calls; seven calls of at least 2 ms, so the quick profile's 150 rounds
    # cost about 4 s.
    paired_rounds: int = 150
    # The primitives, pyperf's way (dthq.harness.primitive_runs): worker processes (and
    # as many timeit processes between them), interleaved rounds a worker, timeit repeats.
    # Six short processes a side rather than four long ones: a change in the machine's
    # load is more likely to land on both sides (a process starts in about 0.8 s).
    primitive_workers: int = 6
    primitive_rounds: int = 8
    primitive_repeat: int = 8


PROFILES: dict[str, Profile] = {
    "quick": Profile("quick", max_time_s=0.25, min_rounds=15, messages_per_session=100),
    "full": Profile(
        "full",
        max_time_s=2.0,
        min_rounds=100,
        messages_per_session=1000,
        bulk_sizes=(1 << 20, 10 << 20, 100 << 20),
        qkd_sifted_bits=400_000,
        cascade_runs=200,
        pipeline_s=30.0,
        pipeline_loads=PIPELINE_LOADS,
        policy_s=60.0,
        sweep_sizes=SWEEP_SIZES,
        sweep_s=30.0,
        fleet_scenarios=FLEET_SCENARIOS,
        fleet_devices=500,
        fleet_s=30.0,
        fleet_capacity_sizes=FLEET_CAPACITY_SIZES,
        fleet_pool_sizes=FLEET_POOL_SIZES,
        soak_readings=1_000_000,
        soak_patients=100,
        soak_warmup=200_000,
        chaos_brokers=("amqtt", "mosquitto", "rabbitmq"),
        chaos_s=120.0,
        failover_nodes=3,
        held_brokers=("amqtt", "mosquitto"),
        held_probe_s=10.0,
        held_precision=0.05,
        held_fhir_s=10.0,
        held_fhir_brokers=("amqtt", "mosquitto"),
        schemes_s=30.0,
        schemes_held=("dthq", "tls", "dthq+tls"),
        store_rows=STORE_ROWS,
        primitive_workers=10,
        primitive_rounds=20,
        primitive_repeat=20,
        store_rounds=100,
        paired_rounds=600,
    ),
}


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UnsupportedError(f"unknown profile {name!r}; choose {', '.join(PROFILES)}") from None
