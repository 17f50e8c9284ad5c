"""The performance targets as specs (what is measured, its limit, how), each judged on
ratios measured side by side in one run: a target holds when its figure is within its
limit (at most the limit, or at least it for a target that says so)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.icount_driver import METRICS_WITH, METRICS_WITHOUT
from dthq.harness.results import CascadeRun, Metric, Results
from dthq.harness.scenarios import PIPELINE_BROKERS
from reports import held
from reports.anchors import CASCADE_PYTHON_SECONDS_PER_10K
from reports.section import Section, Table
from reports.store import GROWTH_LIMIT, ends, growth
from reports.verdicts.outcome import Outcome, judged

TIMEIT_TOLERANCE = 0.10
METRICS_COST_LIMIT_PCT = 2.0
QUICK_BUDGET_S = 600
CASCADE_F_LIMIT = 1.10
HELD_RATIO_LIMIT = 0.5  # the pipeline's held rate over the bare paho pair's, at least
FHIR_CPU_LIMIT = 2.0
WORDS = {
    Outcome.HOLDS: "met",
    Outcome.DOES_NOT_HOLD: "MISSED",
    Outcome.NOT_MEASURED: "not measured",
}


@dataclass(frozen=True)
class Target:
    name: str
    measured: float | None  # the ratio (or seconds) measured, None if not in this run
    limit: float
    unit: str
    how: str
    outcome: Outcome
    at_least: bool = False  # the figure must reach the limit, not stay under it

    @property
    def measured_text(self) -> str:
        return "-" if self.measured is None else f"{self.measured:.3g}{self.unit}"

    @property
    def limit_text(self) -> str:
        return f"{'>= ' if self.at_least else ''}{self.limit:g}{self.unit}"

    @property
    def verdict(self) -> str:
        return WORDS[self.outcome]


@dataclass(frozen=True)
class TargetSpec:
    name: str
    limit: float
    unit: str
    measure: Callable[[Results], float | None]
    how: Callable[[Results], str]
    applies: Callable[[Results], bool] = lambda _: True
    at_least: bool = False  # a rate to reach: held when ``got >= limit``

    def judged(self, results: Results) -> Target:
        got = self.measure(results)
        within = None
        if got is not None:
            within = got >= self.limit if self.at_least else got <= self.limit
        how = self.how(results)
        return Target(self.name, got, self.limit, self.unit, how, judged(within), self.at_least)


def _prim(results: Results, name: str) -> float | None:
    found = results.primitive(name)
    return found.time_us.median if found else None


def _seal_open(r: Results) -> float | None:
    cell = r.cell("256-far-small")
    aead = _prim(r, "aead/AES-256-GCM/cryptography/small")
    return cell[Metric.AL].median * 1e3 / aead if cell and aead else None


def _handshake_floor(r: Results) -> float | None:
    dthq = r.row("dthq-mlkem768-psk")
    kem = [_prim(r, f"kem/ML-KEM-768/{op}") for op in ("keygen", "encaps", "decaps")]
    hkdf = _prim(r, "kdf/HKDF-SHA256/64B")
    floor = sum(kem) + 2 * hkdf if None not in kem and hkdf else None  # type: ignore[arg-type]
    return dthq[Metric.HANDSHAKE].median * 1e3 / floor if dthq and floor else None


def _handshake_tls(r: Results) -> float | None:
    dthq, tls = r.row("dthq-mlkem768-psk"), r.row("tls13-x25519mlkem768")
    return dthq[Metric.HANDSHAKE].median / tls[Metric.HANDSHAKE].median if dthq and tls else None


def _record_path(r: Results) -> float | None:
    dthq, tls = (
        row.get(Metric.RECORD) if row else None
        for row in (r.row("dthq-mlkem768-psk"), r.row("tls13-x25519"))
    )
    return dthq.median / tls.median if dthq and tls else None


def _timeit(r: Results) -> list[float]:
    return [abs(p.time_us.median / p.timeit_median_us - 1) for p in r.primitives
            if p.timeit_median_us]  # fmt: skip


def _timeit_fastest(r: Results) -> float | None:
    found = [abs(p.time_us.min / p.timeit_min_us - 1) for p in r.primitives
             if p.timeit_min_us and p.time_us.min]  # fmt: skip
    return max(found, default=None)


def _optimised(r: Results) -> list[CascadeRun]:
    return [c for c in r.cascade if c.schedule == "optimised"]


def _cascade_how(r: Results) -> str:
    each = ", ".join(f"{c.qber:.0%}: {c.efficiency:.3f}" for c in _optimised(r)) or "none"
    return f"optimised schedule with BICONF, mean f over each QBER's 10,000-bit instances ({each})"


FASTEST_ANCHOR_MS = CASCADE_PYTHON_SECONDS_PER_10K[0] * 1e3


def _cascade_time(r: Results) -> float | None:
    slowest = max((c.time_ms.median for c in _optimised(r)), default=None)
    return slowest / FASTEST_ANCHOR_MS if slowest else None


def _held_ratio(broker: str) -> Callable[[Results], float | None]:
    """Pipeline over pair; None where a search's ceiling leaves the verdict open (the
    pair capped: the ratio is at most this; the pipeline capped: at least this)."""

    def measure(r: Results) -> float | None:
        pair, pipeline = held.pairs(r).get(broker, (None, None))
        got = held.ratio(pair, pipeline)
        if got is None or pair is None or pipeline is None:
            return None
        if (pair.capped and got >= HELD_RATIO_LIMIT) or (
            pipeline.capped and got < HELD_RATIO_LIMIT
        ):
            return None
        return got

    return measure


def _held_how(broker: str) -> Callable[[Results], str]:
    def how(r: Results) -> str:
        pair, pipeline = held.pairs(r).get(broker, (None, None))
        if pair is None or pipeline is None:
            return f"both searches through {broker}, back to back (not both in this run)"
        capped = " (the pair at its search's ceiling)" if pair.capped else ""
        return (
            f"{held.rate(pipeline.held_per_s)}/s over {held.rate(pair.held_per_s)}/s{capped}: "
            f"every reading exactly once, the offered rate kept, p99 <= "
            f"{pipeline.p99_limit_ms:g} ms; {pipeline.payload_bytes} B at QoS {pipeline.qos}, "
            f"probes of {pipeline.probe_s:g} s, bisection to {pipeline.precision:.0%}"
        )

    return how


def _fhir_ratio(r: Results) -> float | None:
    return max((c.ratio for c in r.fhir_cost if c.ratio is not None), default=None)


def _fhir_how(r: Results) -> str:
    each = ", ".join(f"{c.broker}: {c.ratio:.2f}" for c in r.fhir_cost if c.ratio is not None)
    return (
        "the worse broker's: cloud thread CPU per delivered reading, Bundles built and "
        f"validated over none built, same load, back to back ({each or 'none'})"
    )


def _store_how(r: Results) -> str:
    found = ends(r.store)
    sizes = "" if found is None else f" at {found[1].rows:,} rows over at {found[0].rows:,}"
    return (
        f"median Store.put of one batch{sizes}; every size timed in the same rounds, "
        "interleaved, in one run"
    )


def _metrics_cost(r: Results) -> float | None:
    """The pipeline's metrics as a share of a reading's cost, in per cent: instructions
    of the same round of readings with and without them (bench/metrics_cost.py)."""
    counts = {c.figure: c.per_op for c in r.instructions}
    with_, without = counts.get(METRICS_WITH), counts.get(METRICS_WITHOUT)
    return (with_ - without) * 100 / without if with_ and without else None


TARGETS: tuple[TargetSpec, ...] = (
    TargetSpec(
        "DTHQ seal+open of one small reading vs bare AEAD encrypt+decrypt", 3.0, "x", _seal_open,
        lambda _: "Table 4 AL for KL 256, far edge (LZ4 with raw fallback), small, over the "
        "AES-256-GCM (cryptography) encrypt+decrypt primitive on the same bytes",
    ),
    TargetSpec(
        "DTHQ handshake (ML-KEM-768, psk) vs the sum of its primitives", 1.3, "x",
        _handshake_floor,
        lambda _: "primitives: ML-KEM-768 keygen + encaps + decaps + one HKDF-SHA256 per party",
    ),
    TargetSpec(
        "DTHQ handshake (ML-KEM-768, psk) vs TLS 1.3 X25519MLKEM768 in-memory handshake", 0.5,
        "x", _handshake_tls,
        lambda _: "both mutually authenticated, both parties' computation, same run",
    ),
    TargetSpec(
        "DTHQ record path vs TLS 1.3's (seal + open of one reading, no compression)", 1.0, "x",
        _record_path,
        lambda _: "DTHQ's record layer (AES-256-GCM via cryptography) over TLS 1.3's (OpenSSL "
        "via pyOpenSSL memory BIOs), same ~100 B reading, same run",
    ),
    TargetSpec(
        "largest harness-vs-timeit deviation of a primitive median", TIMEIT_TOLERANCE, "",
        lambda r: max(_timeit(r), default=None),
        lambda r: "pytest-benchmark median against timeit.repeat of the same call, "
        f"{len(_timeit(r))} primitives",
    ),
    TargetSpec(
        "largest harness-vs-timeit deviation of a primitive's fastest round (context)",
        TIMEIT_TOLERANCE, "", _timeit_fastest,
        lambda _: "the same comparison on minimums, which contention on a shared machine "
        "disturbs less",
    ),
    # Cascade (SIMULATED link, real code): f <= 1.10 at 1-5 % QBER, and 10x faster than
    # cascade-python's published time per 10,000-bit key.
    TargetSpec(
        "Cascade reconciliation efficiency f at 1-5 % QBER (worst mean)", CASCADE_F_LIMIT, "",
        lambda r: max((c.efficiency for c in _optimised(r)), default=None),
        _cascade_how,
    ),
    TargetSpec(
        "Cascade time per 10,000-bit key vs cascade-python's fastest published (inverse)", 0.1,
        "x", _cascade_time,
        lambda _: f"our slowest median over 1-5 % QBER over {FASTEST_ANCHOR_MS:.0f} ms, the "
        "anchor's published best (its own figure, not re-measured); <= 0.1 is 10x faster",
    ),
    *(
        TargetSpec(
            f"pipeline held rate vs a bare paho pair's, through {broker}", HELD_RATIO_LIMIT,
            "x", _held_ratio(broker), _held_how(broker), at_least=True,
        )
        for broker in PIPELINE_BROKERS  # one row each
    ),
    TargetSpec(
        "cloud CPU per reading with FHIR Bundles vs without", FHIR_CPU_LIMIT, "x",
        _fhir_ratio, _fhir_how,
    ),
    TargetSpec(
        "store put at the largest size measured vs at the smallest (0 rows)", GROWTH_LIMIT,
        "x", lambda r: growth(r.store), _store_how,
    ),
    TargetSpec(
        "metrics cost per reading", METRICS_COST_LIMIT_PCT, " %", _metrics_cost,
        lambda _: "instructions (callgrind) of 64 readings through the in-memory pipeline "
        "(devices, gateway, cloud with twin, FHIR Bundle and store) with the real metrics, "
        "over the same with a collector that does nothing, less one; same run",
    ),
    TargetSpec(
        "quick profile wall time", QUICK_BUDGET_S, "s", lambda r: r.metadata.wall_time_s,
        lambda _: "whole `dthq bench` run, environment already installed",
        applies=lambda r: r.metadata.profile == "quick",
    ),
)  # fmt: skip


def evaluate(results: Results) -> list[Target]:
    return [spec.judged(results) for spec in TARGETS if spec.applies(results)]


def section(results: Results) -> Section:
    found = evaluate(results)
    return Section(
        "Performance targets",
        [
            Table(
                ["Target", "Measured", "Limit", "Verdict", "How"],
                [[t.name, t.measured_text, t.limit_text, t.verdict, t.how] for t in found],
                [t.outcome.tone for t in found],
            )
        ],
        file="targets.md",
    )
