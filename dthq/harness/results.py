"""The typed results model (after pyperf's Run / Benchmark / BenchmarkSuite).

A :class:`Results` holds one run: its :class:`Metadata`, the primitives (the floor),
Table 3 rows, Table 4 cells, the bulk sweep, the forged-HELLO costs, the SIMULATED
QKD figures (sweeps, cost per key, Cascade alone), the pipeline and fleet runs, the
§7.1 policy sweep, the memory soak, the fault suite, the held-rate searches,
the FHIR stage's CPU cost, the store's cost by size and the paired ratios (the
targets' timing ratios, both sides timed in the same rounds). Every timing is a
:class:`Distribution`; figures are named by :class:`Metric`, never by strings.
bench/ingest.py is the one place that builds it from pytest-benchmark output;
results_json.py derives its JSON shape from these dataclasses (their fields and type
hints) and results_history.py migrates older files. The few things the shape cannot
say alone are declared on the fields, as metadata: see OMIT_IF_NONE and REQUIRED_KEYS.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from dthq.harness.stability import Stability

# Field metadata results_json.py reads: a field left out of the JSON when it is None,
# and the keys a mapping field must hold.
OMIT_IF_NONE = "omit_if_none"
REQUIRED_KEYS = "required_keys"


def _omitted_if_none() -> Any:
    return field(default=None, metadata={OMIT_IF_NONE: True})


class Metric(StrEnum):
    """Every figure a row or cell can carry; the value is its key in results.json."""

    HANDSHAKE = "handshake_ms"
    HANDSHAKE_TCP = "handshake_tcp_ms"
    LATENCY_MQTT = "latency_mqtt_ms"  # handshake + one reading, every flight via a broker
    LATENCY = "latency_ms"
    MESSAGE = "message_ms"
    RECORD = "record_ms"  # seal + open of one reading, compression off: the record path alone
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


def _order_statistic(buckets: Sequence[tuple[float, int]], k: int) -> float:
    """The k-th smallest (from 0) of samples given as (value, count), in order."""
    for value, count in buckets:
        if k < count:
            return value
        k -= count
    raise IndexError(k)


@dataclass(frozen=True)
class Distribution:
    """A summary of repeated measurements, in the unit of the field that holds it.

    ``q1``/``q3``/``p95``/``p99`` and ``min`` may be absent only in migrated version-1
    primitives and in rates (a rate has no meaningful fastest round).

    ``cv`` and ``warnings`` are its stability (dthq.harness.stability: pyperf's checks on
    repeated rounds). ``warnings`` None means *not assessed*: a file older than schema
    13, or a distribution that is not of repeated rounds (a pipeline run's per-reading
    latencies, from an HDR histogram, carry none); ``()`` means assessed and stable.
    """

    median: float
    iqr: float
    rounds: int
    min: float | None = _omitted_if_none()
    q1: float | None = _omitted_if_none()
    q3: float | None = _omitted_if_none()
    p95: float | None = _omitted_if_none()
    p99: float | None = _omitted_if_none()
    cv: float | None = _omitted_if_none()
    warnings: tuple[str, ...] | None = _omitted_if_none()

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

    @classmethod
    def from_histogram(cls, histogram: Any, scale: float = 1.0) -> Distribution:
        """Summarise an HDR histogram of nanoseconds (``hdrh``'s ``HdrHistogram``) as
        :meth:`from_samples` summarises the samples: the same linear-interpolation
        quantiles, each sample taken at the middle of its bucket. With 3 significant
        digits a bucket is at most 1/1024 of its values wide, so every figure is within
        1/2048 of the exact one (of the larger sample it lies between; ``iqr`` within
        1/1024 of ``q3``); below 2,048 ns the buckets are 1 ns, exact."""
        buckets = [
            (
                (histogram.get_lowest_equivalent_value(b.value_iterated_to) + b.value_iterated_to)
                / 2,
                b.count_at_value_iterated_to,
            )
            for b in histogram.get_recorded_iterator()
        ]
        n = sum(count for _, count in buckets)
        if not n:
            raise ValueError("no samples")
        unit = scale / 1e9

        def at(q: float) -> float:
            pos = (n - 1) * q
            low, high = (
                _order_statistic(buckets, math.floor(pos)),
                _order_statistic(buckets, math.ceil(pos)),
            )
            return (low + (high - low) * (pos - math.floor(pos))) * unit

        q1, q3 = at(0.25), at(0.75)
        return cls(
            median=at(0.5),
            iqr=q3 - q1,
            rounds=n,
            min=buckets[0][0] * unit,
            q1=q1,
            q3=q3,
            p95=at(0.95),
            p99=at(0.99),
        )

    def assessed(self, stability: Stability) -> Distribution:
        """This distribution with its stability (cv and warnings) filled in."""
        return replace(self, cv=stability.cv, warnings=stability.warnings)

    @property
    def stable(self) -> bool | None:
        """True without warnings, False with any, None when never assessed."""
        return None if self.warnings is None else not self.warnings

    @property
    def relative_noise(self) -> float:
        return self.iqr / self.median if self.median else 0.0

    @property
    def fastest(self) -> float:
        """The fastest round where known (the gate's figure), else the median."""
        return self.median if self.min is None else self.min

    @property
    def tail(self) -> float:
        """The 99th percentile where known, else the median (a migrated version-1
        primitive, a rate): the one figure budgets, tail columns and whiskers use."""
        return self.median if self.p99 is None else self.p99

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
            # the time's stability: a rate is as trustworthy as the time it inverts
            cv=self.cv,
            warnings=self.warnings,
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


# The figures every row or cell holds (the others are measured by some runs only).
TABLE3_REQUIRED = (Metric.HANDSHAKE, Metric.LATENCY, Metric.THROUGHPUT, Metric.COMP_OVERHEAD)
TABLE4_REQUIRED = (Metric.AL, Metric.CC, Metric.THROUGHPUT)


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
    timings: Mapping[Metric, Distribution] = field(metadata={REQUIRED_KEYS: TABLE3_REQUIRED})
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
    timings: Mapping[Metric, Distribution] = field(metadata={REQUIRED_KEYS: TABLE4_REQUIRED})
    comm_bits: int
    modelled_link_ms: float  # MODELLED, never added to measured time
    link: str
    payload_bytes: int
    compressed_bytes: int
    record_bytes: int
    compressed: bool
    kem: str = "ML-KEM-768"  # the session key's source: a KEM, or Q's (simulated) QKD keys


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
class QKDPoint:
    """One SIMULATED BB84 run of a sweep over QBER or fibre length (never measured light)."""

    sweep: str  # "qber" or "fibre"
    qber: float  # the channel's flip probability
    fibre_km: float
    raw_pulses: int
    sifted: int | None  # None if the run aborted before sifting finished
    net_bits: int  # secret bits after privacy amplification, minus authentication; 0 if aborted
    theory_rate: float  # asymptotic bits per pulse at the measured f (f = 1 if aborted)
    shor_preskill_rate: float  # the same at f = 1
    efficiency: float | None = None  # f, optimised Cascade schedule; None if aborted first
    efficiency_original: float | None = None  # f, original Brassard-Salvail schedule
    rounds: int | None = None  # classical round trips of Cascade
    aborted: str | None = None
    simulated: bool = True

    @property
    def key_rate(self) -> float:
        """Net secret bits per raw pulse."""
        return self.net_bits / self.raw_pulses


@dataclass(frozen=True)
class QKDKeyCost:
    """What one SIMULATED run costs that yields a key of ``key_bits`` (the smallest run that
    does, at the stated QBER): time on this machine, classical rounds, pulses."""

    key_bits: int
    qber: float
    raw_pulses: int
    time_ms: Distribution
    rounds: int
    keys: int  # keys the run produced (at least one)
    simulated: bool = True


@dataclass(frozen=True)
class CascadeRun:
    """Cascade alone on ``bits`` sifted bits at ``qber`` (exactly ``round(bits * qber)``
    errors): the time of one instance, and f over ``runs`` instances (one run's f swings
    by +-0.05 at 10,000 bits, so the mean is the figure)."""

    schedule: str
    bits: int
    qber: float
    time_ms: Distribution
    efficiency: float  # mean f over the runs
    efficiency_max: float
    runs: int
    rounds: int  # classical round trips of the timed instance
    block_sizes: tuple[int, ...]
    # f of each instance, in seed order (the mean's bootstrap interval); None in a file
    # written before they were kept
    efficiencies: tuple[float, ...] | None = _omitted_if_none()


STAGES = (
    "acquire",
    "compress",
    "encrypt",
    "transmit",
    "decrypt",
    "gateway",
    "twin",
    "fhir",
    "store",
)
REALTIME_BUDGET_MS = (100.0, 500.0)  # the paper's Table 2 real-time requirement


LOAD_GENERATOR = "devices (load generator)"  # a processes=True run's devices' process CPU
NOT_SYSTEM_CPU = frozenset({LOAD_GENERATOR, "device", "gateway handshakes"})


@dataclass(frozen=True)
class PipelineRun:
    """One run of the twin pipeline (``dthq simulate``, the pipeline bench suite).

    Times are ms per reading as that reading experienced them (a batch's decryption is
    counted in full for each reading in it). ``transmit`` is both MQTT hops, device to
    gateway and gateway to cloud; ``gateway`` is validation, the batch wait and the
    gateway's compression and encryption. Counts are readings; ``lost`` is sent and
    neither delivered nor rejected. ``cpu_s`` is thread CPU time per party in one process;
    with ``processes``, each party's process CPU (user + system) from the first reading
    sent until all settled, the broker's included and the devices' as
    :data:`LOAD_GENERATOR`; ``pin`` says how their processes were placed. ``failures``
    counts failed attempts by outcome ("fhir 5xx", "fhir unreachable", "disk full", ...);
    ``fhir_unsent`` is the bundles still in the outbox at the end (parked ones included)
    and ``fhir_oldest_unsent_s`` the oldest one's age then (None: none unsent).
    """

    transport: str  # memory or mqtt
    broker: str  # amqtt 0.x / mosquitto 2.x / the external URL, "" in memory
    protocol: str  # MQTT 5, MQTT 3.1.1, or ""
    patients: int
    rate_hz: float
    duration_s: float
    qos: int
    policy: str  # fixed or adaptive
    stages: Mapping[str, Distribution]
    end_to_end: Distribution | None
    alert_relevant: Distribution | None  # end to end of readings scoring >= WATCH_TOTAL
    offered_per_s: float
    sent_per_s: float
    delivered_per_s: float
    counts: Mapping[str, int]  # sent, delivered, rejected, lost, duplicated, dropped, ...
    rejected: Mapping[str, int]  # by reason
    alerts: int
    detection_delay_s: Distribution | None  # first alert after a scripted onset
    bytes_up: Mapping[str, int]  # payload bytes per hop: device, gateway
    cpu_s: Mapping[str, float]
    reconnects: int = 0
    down_ms: float = 0.0
    rejection_examples: Mapping[str, str] = field(default_factory=dict)  # first per reason
    failures: Mapping[str, int] = field(default_factory=dict)  # failed attempts by outcome
    fhir_unsent: int = 0
    fhir_oldest_unsent_s: float | None = None
    processes: bool = False  # each party its own process (else all in one)
    pin: str = "none"  # processes: "split", the load generator on a core of its own
    # dthq; tls: MQTT over TLS alone (the stages named encrypt/decrypt do no cryptography,
    # TLS's is in transmit); dthq+tls: DTHQ inside TLS
    scheme: str = "dthq"
    # The broker process's socket bytes over the CPU window (read + written, TCP/IP
    # headers not counted); None: not seen (in one process, or an external broker).
    broker_bytes: int | None = None

    @property
    def key(self) -> str:
        return (
            f"{self.broker.split()[0] if self.broker else self.transport}/{self.policy}/"
            f"{self.patients}x{self.rate_hz:g}Hz/qos{self.qos}"
        )

    @property
    def cpu_ms_per_reading(self) -> float | None:
        """The system's CPU per delivered reading: the devices' (the load generator's)
        left out, and the gateway's handshakes, which its own figure already holds."""
        delivered = self.counts.get("delivered", 0)
        system = sum(s for party, s in self.cpu_s.items() if party not in NOT_SYSTEM_CPU)
        return system * 1000 / delivered if delivered else None

    @property
    def gateway_bytes_per_reading(self) -> float | None:
        delivered = self.counts.get("delivered", 0)
        return self.bytes_up.get("gateway", 0) / delivered if delivered else None


SCHEMES = ("dthq", "tls", "dthq+tls")  # over plain MQTT, MQTT over TLS 1.3 alone, in TLS


@dataclass(frozen=True)
class SchemeRun:
    """One scheme through the pipe (the schemes bench suite): the same load, the same
    broker (mosquitto), the same run as the other schemes.

    ``run``: the steady run, every party its own process (``run.cpu_s`` holds each
    process's CPU, the broker's and the load generator's included).
    ``wire_bytes_per_reading``: every byte the broker process read or wrote (``rchar``
    + ``wchar`` of /proc/<pid>/io over the steady run's sending window and drain: with
    persistence off and no log it touches no file then), both hops and both ways
    (receipts and acks included), per delivered reading; TCP/IP headers are not in it.
    ``broker_cpu_s``: the broker's user + system CPU over the same window.
    ``storm_recovery_s`` (timed with the parties in one process, the timer driving the
    devices, alike for every scheme): from the broker's restart (every connection
    dropped at once) until every device has a reading taken after it stored by the
    cloud: TCP and, under TLS, every TLS handshake again; DTHQ's sessions live on.
    ``cold_recovery_s``: the same from a gateway restart, whose DTHQ sessions are lost
    (NO_SESSION, then a DTHQ handshake per device); under "tls" only the gateway's own
    connection is new. ``connections``: the broker connections that reconnect in the
    storm (TLS handshakes under the TLS schemes). ``held_per_s``: the highest offered
    rate held, by the held suite's definition and search (None: not measured), found to
    within ``held_precision`` (relative).
    """

    scheme: str  # one of SCHEMES
    run: PipelineRun
    wire_bytes_per_reading: float | None
    broker_cpu_s: float
    storm_recovery_s: float | None  # None: not every device recovered in the time allowed
    cold_recovery_s: float | None
    connections: int
    held_per_s: float | None = None
    held_precision: float | None = None  # the held search's relative precision

    def cpu_ms_per_reading(self) -> dict[str, float]:
        """CPU ms per delivered reading of each party and of the broker."""
        delivered = self.run.counts.get("delivered", 0)
        if not delivered:
            return {}
        # "gateway handshakes" is a share of "gateway" already: not added twice
        spent = {p: s for p, s in self.run.cpu_s.items() if p != "gateway handshakes"}
        spent["broker"] = self.broker_cpu_s
        return {p: s * 1000 / delivered for p, s in spent.items()}


@dataclass(frozen=True)
class RSSSample:
    readings: int  # sent (and all settled) when the sample was taken
    rss_bytes: int


@dataclass(frozen=True)
class SoakRun:
    """Memory over a long run (the soak suite): the real pipeline on the memory bus,
    devices driven as fast as it takes them, the process's RSS sampled with nothing in
    flight. ``slope_bytes_per_reading`` is the least-squares slope of RSS against
    readings after ``warmup_readings`` (the twins' histories fill, the collector's
    windows fill); the run is flat when it is at most ``limit_bytes_per_reading``.
    ``counts``: sent, delivered, lost, and the traces evicted in flight."""

    transport: str
    policy: str
    patients: int
    readings: int
    warmup_readings: int
    samples: tuple[RSSSample, ...]
    slope_bytes_per_reading: float
    limit_bytes_per_reading: float
    counts: Mapping[str, int]
    wall_s: float

    @property
    def flat(self) -> bool:
        return self.slope_bytes_per_reading <= self.limit_bytes_per_reading


@dataclass(frozen=True)
class StoreCostPoint:
    """The twin store's cost at one size (the store suite): ``Store.put`` of one typical
    batch (``batch`` readings, one per patient of ``patients``, with the session state,
    as the cloud writes it with no FHIR destination) on a store already holding
    ``rows`` readings. Every size of a run is measured in the same rounds, interleaved,
    so their ratio is taken under the same load. ``put_ms`` is wall time (its fsyncs
    included); ``cpu_ms`` the process's CPU time in the same calls, which a shared
    disk's waits do not blur."""

    rows: int
    patients: int
    batch: int
    put_ms: Distribution
    cpu_ms: Distribution
    # The median put of each round, in round order: round i of every size was taken side
    # by side, so sizes pair round by round. None in a file written before they were kept.
    round_ms: tuple[float, ...] | None = _omitted_if_none()


@dataclass(frozen=True)
class ChaosRun:
    """One fault-suite run (``nox -s chaos``): the pipeline's parties as processes
    through a broker, faults injected, every reading the devices generated classified
    (``readings``: delivered, duplicated, refused, lost, unacknowledged, unexpected;
    see chaos/checker.py). ``faults`` counts what was injected, by kind; ``lost`` the
    lost readings by reason; ``recovery_s`` the seconds from a fault until every
    patient has a reading taken after it settled again. ``established``: devices
    holding a session at the end; ``settled``: the run settled within its wait;
    ``fhir_behind``: readings stored whose Bundle never reached the FHIR server."""

    broker: str
    devices: int
    rate_hz: float
    duration_s: float
    seed: int
    faults: Mapping[str, int]
    readings: Mapping[str, int]
    lost: Mapping[str, int]
    recovery_s: Distribution | None
    established: int
    settled: bool
    store_verified: bool
    fhir_behind: int
    ok: bool


@dataclass(frozen=True)
class NodeKill:
    """One node of a cluster killed with ``kill -9`` under the failover stream: the
    clients that were on it, each one's seconds until connected to another node, the
    seconds the node took to start again and pass messages, and of the messages
    published from this kill to the next: those the broker acknowledged, those of them
    that never arrived, and the duplicates that arrived and were removed by sequence
    number."""

    node: str
    clients_moved: int
    reconnect_s: tuple[float, ...]
    restart_s: float
    acknowledged: int
    lost: int
    duplicates_removed: int


@dataclass(frozen=True)
class FailoverRun:
    """Failover on a cluster (:mod:`dthq.harness.failover`): a QoS 1 stream at
    ``rate_per_s`` with a persistent subscriber, each node killed in turn. ``lost`` and
    ``duplicates_removed`` are over the whole stream."""

    broker: str
    nodes: int
    rate_per_s: float
    window_s: float
    sent: int
    acknowledged: int
    lost: int
    duplicates_removed: int
    kills: tuple[NodeKill, ...]


@dataclass(frozen=True)
class PolicyPoint:
    """One gateway policy at one message size of the §7.1 sweep: the pipeline run in
    which every reading's JSON, with its PPG window, was ``message_bytes`` long."""

    message_bytes: int
    run: PipelineRun


@dataclass(frozen=True)
class FleetRun:
    """One device fleet on Locust (``dthq fleet``, the fleet bench suite).

    Times are ms. ``handshake`` and ``publish`` (sealed and PUBACKed) come from the
    Locust workers, ``end_to_end`` from the twin (acquisition timestamp to commit);
    ``storm_recovery`` is each device's time from the storm to established again and
    ``recovery_s`` the last one's. ``cpu`` is cores used per process, averaged over the
    run (``cpu_peak``: its busiest second); ``costs`` the measured per-unit costs the
    100,000-device model starts from (gateway CPU ms per reading and per handshake,
    bytes per reading and per handshake, broker CPU ms per message). ``locust`` is
    Locust's own request count per event, beside our counts to check them.
    """

    scenario: str
    broker: str
    protocol: str
    devices: int
    workers: int
    gateways: int
    rate_hz: float
    offered_per_s: float
    duration_s: float
    wall_s: float
    handshake: Distribution | None
    publish: Distribution | None
    end_to_end: Distribution | None
    storm_recovery: Distribution | None
    recovery_s: float | None
    throughput_per_s: float
    counts: Mapping[str, int]
    rejected: Mapping[str, int]
    gateway_work: Mapping[str, int]
    cpu: Mapping[str, float]
    cpu_peak: Mapping[str, float]
    costs: Mapping[str, float]
    locust: Mapping[str, int]
    rejection_examples: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        broker = self.broker.split()[0]
        return f"{self.scenario}/{broker}/{self.devices}x{self.rate_hz:g}Hz/gw{self.gateways}"


@dataclass(frozen=True)
class HeldProbe:
    """One probe of a held-rate search: ``offered_per_s`` offered for the search's
    window, what was sent and delivered, and the end-to-end latency of what was
    delivered (None: nothing was). ``why_not`` is empty when the rate was held, else
    every reason it was not ("p99 123 ms > 100 ms; 4 lost"), or why the probe failed."""

    offered_per_s: float
    sent: int
    sent_per_s: float
    delivered_once: int
    duplicated: int
    lost: int  # sent and never delivered
    p50_ms: float | None
    p99_ms: float | None
    why_not: str = ""

    @property
    def held(self) -> bool:
        return not self.why_not


@dataclass(frozen=True)
class HeldRate:
    """The highest rate a subject held (every reading sent delivered exactly once, the
    offered rate kept, end-to-end p99 <= ``p99_limit_ms``), found by doubling from a start
    rate, then bisecting to ``precision`` (relative): ``probes`` in the order they ran.
    ``held_per_s`` is None when not even the search's lowest rate held; ``capped`` when
    its highest did (the subject may hold more)."""

    subject: str  # "paho pair" (the reference) or "pipeline"
    broker: str
    qos: int
    payload_bytes: int  # per message on the wire: a device's sealed reading frame
    probe_s: float  # seconds offered per probe
    precision: float
    p99_limit_ms: float
    held_per_s: float | None
    capped: bool
    probes: tuple[HeldProbe, ...]

    @property
    def key(self) -> str:
        return f"{self.subject}/{self.broker.split()[0] if self.broker else ''}"


@dataclass(frozen=True)
class FHIRCost:
    """The cloud's CPU per reading at one load with FHIR Bundles built and validated (the
    default) and with none built: two pipeline runs, back to back, on one broker."""

    broker: str
    with_fhir: PipelineRun
    without_fhir: PipelineRun

    @staticmethod
    def cloud_ms_per_reading(run: PipelineRun) -> float | None:
        delivered = run.counts.get("delivered", 0)
        return run.cpu_s.get("cloud", 0.0) * 1000 / delivered if delivered else None

    @property
    def ratio(self) -> float | None:
        """Cloud CPU per reading with FHIR over without."""
        on, off = (self.cloud_ms_per_reading(r) for r in (self.with_fhir, self.without_fhir))
        return on / off if on is not None and off else None


@dataclass(frozen=True)
class PairedRatio:
    """A ratio whose numerator and denominator were timed in the same interleaved rounds,
    in one process (the paired suite, dthq.harness.paired): round i of each side taken
    side by side, so a burst of load falls on both. ``ratios`` are the per-round ratios,
    ``median`` theirs, ``low``/``high`` the percentile-bootstrap interval of that median
    (``confidence``, ``resamples``, resampling whole pairs). ``cv`` and ``warnings`` are
    the ratio's stability (pyperf's checks on blocks of its rounds): a ratio with a
    warning is unstable. ``numerator_us``/``denominator_us`` are each side's time per
    call over the rounds, ``*_loops`` its calls per round."""

    figure: str  # which ratio (a target's key, e.g. "seal_open/aead")
    numerator: str  # what each side times, in words
    denominator: str
    numerator_us: Distribution
    denominator_us: Distribution
    numerator_loops: int
    denominator_loops: int
    ratios: tuple[float, ...]
    median: float
    low: float
    high: float
    confidence: float
    resamples: int
    cv: float | None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class InstructionCount:
    """Instructions per operation of one gated figure, counted by callgrind (see
    bench/instructions.py): ``handshake/<Table 3 row>`` or ``record/<Table 4 cell>``.
    A ``randomised`` figure's count moves between runs (hedged ML-DSA signing repeats
    its rejection loop a random number of times): it is reported, never gated."""

    figure: str
    per_op: float
    n: int  # the difference was taken between N and 2N calls
    randomised: bool = False


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
    valgrind: str | None = None  # what counted the instructions, if they were counted

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
    qkd_sweep: tuple[QKDPoint, ...] = ()
    qkd_keys: tuple[QKDKeyCost, ...] = ()
    cascade: tuple[CascadeRun, ...] = ()
    pipeline: tuple[PipelineRun, ...] = ()
    fleet: tuple[FleetRun, ...] = ()
    policy_sweep: tuple[PolicyPoint, ...] = ()
    soak: tuple[SoakRun, ...] = ()
    chaos: tuple[ChaosRun, ...] = ()
    failover: tuple[FailoverRun, ...] = ()
    held: tuple[HeldRate, ...] = ()
    fhir_cost: tuple[FHIRCost, ...] = ()
    schemes: tuple[SchemeRun, ...] = ()
    store: tuple[StoreCostPoint, ...] = ()
    paired: tuple[PairedRatio, ...] = ()
    instructions: tuple[InstructionCount, ...] = ()
    created: str = ""
    generator: str = ""

    def primitive(self, name: str) -> Primitive | None:
        return next((p for p in self.primitives if p.name == name), None)

    def paired_ratio(self, figure: str) -> PairedRatio | None:
        return next((p for p in self.paired if p.figure == figure), None)

    def row(self, key: str) -> Table3Row | None:
        return next((r for r in self.table3 if r.key == key), None)

    def cell(self, key: str) -> Table4Cell | None:
        return next((c for c in self.table4 if c.key == key), None)

    def cells(self, kem: str) -> tuple[Table4Cell, ...]:
        """Table 4's cells for one session-key source (its label, e.g. "ML-KEM-768")."""
        return tuple(c for c in self.table4 if c.kem == kem)
