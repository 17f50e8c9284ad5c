"""The writing half of the tag contract: what each benchmark records about itself.

Every benchmark tags itself with its suite and what ingestion (bench/ingest.py, the
reading half) needs to build its part of the results model. Where a benchmark becomes
one model object, :data:`TAGGED` declares the contract once, from the model's own
fields: the tag holds each field under its own name, except the one timed (from
pytest-benchmark's statistics) and those derived at ingestion. Tag keys are what raw
pytest-benchmark JSON files hold, so they stay as they are.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dthq.harness.results import (
    BulkRun,
    CascadeRun,
    ChaosRun,
    Distribution,
    FailoverRun,
    FHIRCost,
    FleetRun,
    ForgedHello,
    HeldRate,
    Metric,
    PairedRatio,
    PipelineRun,
    PolicyPoint,
    Primitive,
    QKDKeyCost,
    QKDPoint,
    SchemeRun,
    SoakRun,
    StoreCostPoint,
)
from dthq.harness.results_json import plain
from dthq.harness.scenarios import Table3Scenario, Table4Scenario
from dthq.schemes import Session

MS, US = 1e3, 1e6  # seconds -> unit


class Suite(StrEnum):
    PRIMITIVES = "primitives"
    TABLE3 = "table3"
    TABLE4 = "table4"
    BULK = "bulk"
    FORGED_HELLO = "forged_hello"
    QKD_SWEEP = "qkd_sweep"
    QKD_KEY = "qkd_key"
    CASCADE = "cascade"
    PIPELINE = "pipeline"
    FLEET = "fleet"
    POLICY_SWEEP = "policy_sweep"
    SOAK = "soak"
    CHAOS = "chaos"
    FAILOVER = "failover"
    HELD = "held"
    FHIR_COST = "fhir_cost"
    SCHEMES = "schemes"
    STORE = "store"
    PAIRED = "paired"


Derive = Callable[[Mapping[str, Any], Distribution], dict[str, Any]]


@dataclass(frozen=True)
class Tagged:
    """Each benchmark of a suite becomes one ``model``: ``timed`` from its statistics (in
    seconds times ``scale``), ``derive`` computes the fields it returns from the tag and
    that time (``inputs`` are the tag keys it reads that are not fields), and every other
    field without a default is tagged under its own name."""

    model: type
    timed: str
    scale: float
    derived: tuple[str, ...] = ()
    derive: Derive | None = None
    inputs: tuple[str, ...] = ()

    @property
    def keys(self) -> frozenset[str]:
        """The keys a tag of this suite holds, besides ``suite``."""
        required = {
            f.name
            for f in dataclasses.fields(self.model)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        return frozenset(required - {self.timed, *self.derived} | set(self.inputs))


def _bulk_rate(info: Mapping[str, Any], time_ms: Distribution) -> dict[str, Any]:
    return {"mb_per_s": info["total_bytes"] / 1e6 / (time_ms.median / MS)}


def _cascade_efficiency(info: Mapping[str, Any], _: Distribution) -> dict[str, Any]:
    """f is the mean over the instances (one instance's f swings by +-0.05)."""
    runs = info["efficiencies"]
    return {
        "efficiency": statistics.fmean(runs),
        "efficiency_max": max(runs),
        "runs": len(runs),
        "block_sizes": tuple(info["block_sizes"]),  # a list in JSON, a tuple in the model
        "efficiencies": tuple(runs),  # each instance's, for the mean's interval
    }


TAGGED: dict[Suite, Tagged] = {
    Suite.BULK: Tagged(BulkRun, "time_ms", MS, ("mb_per_s",), _bulk_rate),
    Suite.FORGED_HELLO: Tagged(ForgedHello, "cpu_us", US),
    Suite.QKD_KEY: Tagged(QKDKeyCost, "time_ms", MS),
    Suite.CASCADE: Tagged(
        CascadeRun,
        "time_ms",
        MS,
        ("efficiency", "efficiency_max", "runs", "efficiencies"),
        _cascade_efficiency,
        ("efficiencies",),
    ),
}

# Suites whose figures are their own result, not the benchmark's time: the tag key that
# holds it, in results.json's form, and the model it is read back as.
PRIMITIVES_KEY = "primitives"
FIGURES: dict[Suite, tuple[str, type]] = {
    Suite.PRIMITIVES: (PRIMITIVES_KEY, Primitive),  # all of them, measured in workers
    Suite.QKD_SWEEP: ("points", QKDPoint),  # a SIMULATED sweep: a list of points
    Suite.PIPELINE: ("run", PipelineRun),
    Suite.FLEET: ("run", FleetRun),
    Suite.POLICY_SWEEP: ("point", PolicyPoint),
    Suite.SOAK: ("run", SoakRun),
    Suite.CHAOS: ("run", ChaosRun),
    Suite.FAILOVER: ("run", FailoverRun),
    Suite.HELD: ("search", HeldRate),
    Suite.FHIR_COST: ("cost", FHIRCost),
    Suite.SCHEMES: ("run", SchemeRun),
    Suite.STORE: ("points", StoreCostPoint),  # one point per row count
    Suite.PAIRED: ("points", PairedRatio),  # one point per timing-ratio target
}
LISTED = frozenset({"points", PRIMITIVES_KEY})  # the tag keys that hold a list of figures


def tag(benchmark: Any, suite: Suite, **info: Any) -> None:
    """Tag a benchmark of a :data:`TAGGED` suite: exactly the keys its model declares."""
    expected = TAGGED[suite].keys
    if info.keys() != expected:
        wrong = [f"lacks {sorted(expected - info.keys())}"] if expected - info.keys() else []
        wrong += [f"has unknown {sorted(info.keys() - expected)}"] if info.keys() - expected else []
        raise TypeError(f"a {suite} tag {' and '.join(wrong)}")
    benchmark.extra_info.update(suite=suite.value, **plain(info))


def tag_figures(benchmark: Any, suite: Suite, figures: Any) -> None:
    """Tag a benchmark of a :data:`FIGURES` suite with its result (a run, a sweep's points)."""
    key, _ = FIGURES[suite]
    benchmark.extra_info.update({"suite": suite.value, key: plain(figures)})


def tag_table3(
    benchmark: Any,
    row: Table3Scenario,
    metric: Metric,
    *,
    quantum_safe: str | None = None,
    session: Session | None = None,
    record: bytes = b"",
    payload: bytes = b"",
) -> None:
    """A Table 3 figure; the session, record and payload give the row's byte counts."""
    info: dict[str, Any] = {
        "suite": Suite.TABLE3.value,
        "row": row.key,
        "label": row.label,
        "paper_row": row.paper,
        "edge": row.edge,
        "metric": metric.value,
    }
    if session is not None:
        info.update(
            quantum_safe=quantum_safe,
            flights=[[f.sender, f.name, f.size] for f in session.flights],
            handshake_bytes=session.handshake_bytes,
            record_overhead_bytes=session.initiator.overhead,
            record_bytes=len(record),
            payload_bytes=len(payload),
            params={k: v for k, v in session.params.items() if v is not None},
        )
    benchmark.extra_info.update(info)


def tag_table4(benchmark: Any, cell: Table4Scenario, metric: Metric, **sizes: Any) -> None:
    """A Table 4 figure: the cell's axes, plus its codec, AEAD, compression and byte
    counts (``sizes``, the keys of :data:`TABLE4_TAGGED`)."""
    if sizes.keys() != TABLE4_TAGGED:
        raise TypeError(f"a table4 tag holds {sorted(TABLE4_TAGGED)}; got {sorted(sizes)}")
    benchmark.extra_info.update(
        suite=Suite.TABLE4.value,
        cell=cell.key,
        kem=cell.kem.label,
        key_length=cell.key_length,
        edge=cell.edge,
        size=cell.size,
        metric=metric.value,
        **sizes,
    )


# A Table 4 cell's fields tagged as they are (the others come from the cell's axes or
# are derived at ingestion).
TABLE4_TAGGED = frozenset(
    {"codec", "aead", "compressed", "payload_bytes", "compressed_bytes", "record_bytes"}
)
