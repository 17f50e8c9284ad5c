"""Each gate `dthq compare` runs, put together from its inputs: stored runs by time or by
instruction counts, a git revision measured against this checkout, and the commit
trailer that accepts a regression."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from bench.gate.compare import (
    GATED_TABLE3,
    GATED_TABLE4,
    GateError,
    GateReport,
    compare_per_op,
    instruction_counts,
    run_gate,
    stale_hard_limits,
)
from bench.gate.limits import Limits
from bench.gate.paired import check_pairs, compare_paired
from bench.gate.stats import ALPHA
from dthq.harness.results import Distribution, Results


def check_gateable(named: Sequence[tuple[str, Results]], metric: str) -> None:
    """Stored runs (each with the file it came from) the gate can compare by ``metric``;
    else a GateError naming the file and, for a time it cannot divide by, the field."""
    if metric != "time":
        for where, r in named:
            if not r.instructions:
                raise GateError(
                    f"{where}: holds no instruction counts (made without valgrind, or before "
                    "schema 3): compare by --metric time, or rerun `dthq bench`"
                )
            for i, c in enumerate(r.instructions):
                if not c.per_op > 0:
                    raise GateError(
                        f"{where}: instructions[{i}].per_op ({c.figure}): {c.per_op:g}, "
                        "a count the gate divides by must be positive"
                    )
        return
    for where, r in named:
        if not r.primitives:
            raise GateError(f"{where}: holds no primitive times: nothing to normalise by")
        for path, t in timed_fields(r):
            if not t.fastest > 0:
                raise GateError(
                    f"{where}: {path}: fastest round {t.fastest:g}, a time the gate "
                    "divides by must be positive"
                )
    shared = set.intersection(*({p.name for p in r.primitives} for _, r in named))
    if not shared:
        raise GateError(
            f"no primitive is shared by {', '.join(dict.fromkeys(w for w, _ in named))}: "
            "nothing to normalise by"
        )


def timed_fields(r: Results) -> list[tuple[str, Distribution]]:
    """The times the gate reads (primitives and gated figures), by their field path."""
    out = [(f"primitives[{i}].time_us ({p.name})", p.time_us) for i, p in enumerate(r.primitives)]
    for i, row in enumerate(r.table3):
        out += [(f"table3[{i}].timings.{m} ({row.key})", t) for m in GATED_TABLE3
                if (t := row.get(m)) is not None]  # fmt: skip
    for i, cell in enumerate(r.table4):
        out += [(f"table4[{i}].timings.{m} ({cell.key})", cell[m]) for m in GATED_TABLE4]
    return out


def gate_on_files(
    base_runs: Sequence[Results], cur_runs: Sequence[Results], metric: str, limits: Limits
) -> GateReport:
    """Two stored sides (each one run or several): by time (floor-normalised, no
    significance test: stored runs are not interleaved pairs), or by instruction counts
    (deterministic: no p-value, a move is judged against its limits)."""
    if metric == "time":
        return run_gate(base_runs, cur_runs, limits)
    base = [instruction_counts(r) for r in base_runs]
    cur = [instruction_counts(r) for r in cur_runs]
    if not all(counts for counts, _ in base + cur):
        raise GateError(
            "a results file holds no instruction counts (made without valgrind, or before "
            "schema 3): compare by --metric time, or rerun `dthq bench`"
        )
    randomised = set().union(*(r for _, r in base + cur))
    changes = compare_per_op([c for c, _ in base], [c for c, _ in cur], limits, randomised)
    stale = stale_hard_limits(changes, limits, "instructions")
    return GateReport(changes, limits, stale, metric="instructions")


def gate_against(
    rev: str,
    metric: str,
    which: str,
    only: list[str] | None,
    limits: Limits,
    progress: Callable[[str], None],
    pairs: int = 12,
) -> GateReport:
    """REV and this checkout, measured now (time: ``pairs`` interleaved base/head runs,
    tested); raises ``bench.against.NoParent`` when there is no REV to measure (a
    shallow clone)."""
    from bench.against import measure

    if metric == "time" and only:
        check_pairs(pairs, len(only))  # before minutes of measuring, where it is known
    base, head = measure(rev, metric, which, runs=pairs, only=only, progress=progress)
    unknown = sorted(set(only or ()) - set(head.runs[0]) - set(head.missing))
    if unknown:
        raise GateError(f"no gated figure named {', '.join(unknown)}")
    warnings = [
        f"{key} could not be measured in {rev}: {why}" for key, why in sorted(base.missing.items())
    ]
    randomised = base.randomised | head.randomised
    if metric == "time":
        changes = compare_paired(base.runs, head.runs, limits, randomised)
        warnings += stale_hard_limits(changes, limits, metric)
        return GateReport(changes, limits, warnings, metric=metric, alpha=ALPHA, pairs=pairs)
    changes = compare_per_op(base.runs, head.runs, limits, randomised)
    warnings += stale_hard_limits(changes, limits, metric)
    return GateReport(changes, limits, warnings, metric=metric)


def accepted_by_trailer(gate: GateReport) -> tuple[GateReport, str | None]:
    """A failed gate, accepted when HEAD's commit message carries the trailer; the note
    to print says so."""
    from bench.against import TRAILER, head_trailer

    why = head_trailer() if gate.failed else None
    if not why:
        return gate, None
    note = f"regression accepted by the commit's {TRAILER} trailer: {why}"
    return replace(gate, accepted=why), note
