"""results.json's format history, and the one map of migrations between its versions.

FORMAT HISTORY (``schema_version``: what it added)

1. Timings beside a row's other fields, the machine's keys flat in the metadata,
   primitives as flat ``*_us`` numbers, the amortised latency an object.
2. The typed model's shape: ``timings`` per row and cell, ``metadata.machine``, each
   primitive's ``time_us`` a distribution, ``flights`` as objects.
3. ``instructions`` (callgrind counts per gated figure) and ``metadata.valgrind``.
4. ``forged_hello``.
5. ``qkd_sweep``, ``qkd_keys`` and ``cascade`` (the SIMULATED QKD sections, added
   together), and ``table4[].kem`` (the session key's source; ML-KEM-768 before).
6. ``pipeline``, with ``rejection_examples`` per run.
7. ``fleet``.
8. ``policy_sweep`` (the §7.1 sweep: each gateway policy at each message size).
9. ``failures``, ``fhir_unsent`` and ``fhir_oldest_unsent_s`` in every pipeline run (in
   ``pipeline`` and in ``policy_sweep[].run``): an older run had them as ``{}``, 0, null.
10. ``soak`` (RSS over a long run through the memory bus).
11. ``chaos`` (the fault suite: faults injected, every reading classified).
12. ``held`` (held-rate searches: the paho pair and the pipeline, every probe),
    ``fhir_cost`` (the cloud's CPU per reading with and without FHIR Bundles),
    ``schemes`` (DTHQ, MQTT over TLS 1.3 and DTHQ inside TLS through the same pipe) and
    ``store`` (the twin store's put cost at each row count);
    and ``processes``, ``pin``, ``scheme`` and ``broker_bytes`` in every pipeline run: an
    older run was DTHQ all in one process (false, "none", "dthq", null).
13. ``paired`` (the paired suite: each timing-ratio target's numerator and denominator
    timed in the same interleaved rounds, the per-round ratios, their median's bootstrap
    interval and the ratio's stability); and, optional (absent in older files),
    ``cascade[].efficiencies`` (f of each instance) and ``store[].round_ms`` (each
    round's median put);
    and ``cv`` and ``warnings`` in a distribution: its stability (pyperf's checks on its
    repeated rounds), left out where not assessed; an older file's have none (not
    assessed), and a pipeline run's per-reading latencies never carry them. The
    primitives are measured in worker processes and cross-checked against ``timeit``
    run in processes of its own (same fields as before).

Versions 4 to 7 were added by writers that still said 2 (4 to 6) or 3 (7), so a file
labelled 2 or 3 may already hold them: each migration adds its section, empty, only
where the file lacks it. Migrations are pure and never fail: whatever they cannot
make sense of they pass on, for the strict reader to name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dthq.harness.results import Metric

FORMAT = "dthq-bench-results"
SCHEMA_VERSION = 14

Document = dict[str, Any]

# Version 1 kept these run fields in the metadata beside the machine's own keys.
_V1_RUN_KEYS = (
    "profile",
    "messages_per_session",
    "wall_time_s",
    "commit",
    "node",
    "benchmark_datetime",
    "pytest_benchmark",
    "slowdown",
)
_V1_PRIMITIVE_KEYS = {"name", "median_us", "iqr_us", "min_us", "rounds"}
_V1_PRIMITIVE_KEYS |= {"timeit_median_us", "timeit_min_us"}


def _v1_to_v2(data: Document) -> Document:
    out = dict(data)
    meta = data.get("metadata")
    if isinstance(meta, dict):
        out["metadata"] = {
            **{k: meta.get(k) for k in _V1_RUN_KEYS},
            "machine": {k: v for k, v in meta.items() if k not in _V1_RUN_KEYS},
        }
    out = _changing(out, "primitives", _v1_primitive)
    return _changing(_changing(out, "table3", _v1_row), "table4", _v1_row)


def _v1_primitive(p: Document) -> Document:
    time_us = {"median": p.get("median_us"), "iqr": p.get("iqr_us"), "rounds": p.get("rounds")}
    if p.get("min_us") is not None:
        time_us["min"] = p["min_us"]
    return {
        "name": p.get("name"),
        "time_us": time_us,
        "timeit_median_us": p.get("timeit_median_us"),
        "timeit_min_us": p.get("timeit_min_us"),
        "params": {k: v for k, v in p.items() if k not in _V1_PRIMITIVE_KEYS},
    }


def _v1_row(row: Document) -> Document:
    metrics = {m.value for m in Metric}
    out = {k: v for k, v in row.items() if k not in metrics}
    out["timings"] = {k: v for k, v in row.items() if k in metrics}
    if isinstance(row.get("flights"), list):  # [sender, name, bytes] triples
        out["flights"] = [
            dict(zip(("sender", "name", "size"), f, strict=False)) if isinstance(f, list) else f
            for f in row["flights"]
        ]
    amortised = row.get("latency_amortised_ms")
    if isinstance(amortised, dict):
        out["latency_amortised_ms"] = amortised.get("median")
    if "key" not in out and "key_length" in row:  # Table 4 cells were keyed by their axes
        out["key"] = f"{row['key_length']}-{row.get('edge')}-{row.get('size')}"
    return out


def _changing(data: Document, section: str, change: Callable[[Document], Document]) -> Document:
    """Each object of a section changed; anything else passed on as it was."""
    rows = data.get(section)
    if not isinstance(rows, list):
        return data
    return {**data, section: [change(r) if isinstance(r, dict) else r for r in rows]}


def _adding(*sections: str) -> Callable[[Document], Document]:
    """A migration that adds sections, empty, where the file lacks them."""

    def migrate(data: Document) -> Document:
        return {**data, **{s: [] for s in sections if s not in data}}

    return migrate


def _v2_to_v3(data: Document) -> Document:
    out = _adding("instructions")(data)
    meta = data.get("metadata")
    if isinstance(meta, dict):
        out["metadata"] = {**meta, "valgrind": meta.get("valgrind")}
    return out


def _v4_to_v5(data: Document) -> Document:
    out = _adding("qkd_sweep", "qkd_keys", "cascade")(data)
    return _changing(out, "table4", lambda c: {"kem": "ML-KEM-768", **c})


def _v5_to_v6(data: Document) -> Document:
    out = _adding("pipeline")(data)
    return _changing(out, "pipeline", lambda r: {"rejection_examples": {}, **r})


_V9_RUN_DEFAULTS: Document = {"failures": {}, "fhir_unsent": 0, "fhir_oldest_unsent_s": None}
_V12_RUN_DEFAULTS: Document = {
    "processes": False,
    "pin": "none",
    "scheme": "dthq",
    "broker_bytes": None,
}


def _pipeline_runs_with(defaults: Document) -> Callable[[Document], Document]:
    """A migration that gives every pipeline run (its own and the sweep's) the fields
    it lacks, with their defaults."""

    def run(r: Document) -> Document:
        return {**r, **{k: v for k, v in defaults.items() if k not in r}}

    def migrate(data: Document) -> Document:
        out = _changing(data, "pipeline", run)
        return _changing(
            out,
            "policy_sweep",
            lambda p: {**p, "run": run(p["run"])} if isinstance(p.get("run"), dict) else p,
        )

    return migrate


def _v11_to_v12(data: Document) -> Document:
    sections = _adding("held", "fhir_cost", "schemes", "store")(data)
    return _pipeline_runs_with(_V12_RUN_DEFAULTS)(sections)


# version -> the function that turns a file of that version into the next one
MIGRATIONS: dict[int, Callable[[Document], Document]] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _adding("forged_hello"),
    4: _v4_to_v5,
    5: _v5_to_v6,
    6: _adding("fleet"),
    7: _adding("policy_sweep"),
    8: _pipeline_runs_with(_V9_RUN_DEFAULTS),
    9: _adding("soak"),
    10: _adding("chaos"),
    11: _v11_to_v12,
    12: _adding("paired"),
    13: _adding("failover"),
}
