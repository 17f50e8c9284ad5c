"""The paper's Table 2 as register rows: the parameter ranges of its simulation. They are
settings, not results, so none is judged; where we run the same setting, ours is beside."""

from __future__ import annotations

from dthq.harness.results import Results
from dthq.harness.scenarios import PAPER_KEM
from reports.verdicts.judge import ClaimSpec, Kind, Measure, Measured, fixed
from reports.verdicts.outcome import Outcome

SETTING = fixed(Outcome.NOT_TESTABLE_HERE, ": a setting of the paper's simulation, not a result")
DEFINITION = "a parameter range the paper ran with; ours is the setting we run, if any"


def _key_lengths(r: Results) -> Measured:
    found = sorted({c.key_length for c in r.cells(PAPER_KEM.label)})
    return Measured(", ".join(map(str, found)) + " bits (Table 4)" if found else "-")


def _qbers(r: Results) -> Measured:
    found = sorted({c.qber for c in r.cascade})
    return Measured(", ".join(f"{q:.0%}" for q in found) + " QBER (Cascade)" if found else "-")


def _blocks(r: Results) -> Measured:
    sizes = {c.size: c.payload_bytes for c in r.cells(PAPER_KEM.label)}
    return Measured(", ".join(f"{s} {b} B" for s, b in sizes.items()) or "-")


def _row(name: str, value: str, measure: Measure | None = None) -> ClaimSpec:
    slug = name.lower().replace(" ", "-").replace("(", "").replace(")", "")
    extra = {"measure": measure} if measure else {}
    return ClaimSpec(
        f"t2-{slug}", f"Table 2, {name}", Kind.RANGE, f'"{name}": "{value}"', value,
        DEFINITION, SETTING, **extra,
    )  # fmt: skip


CLAIMS: tuple[ClaimSpec, ...] = (
    _row("Data volume", "1 MB-10 GB"),
    _row("Data block size", "1 KB, 4 KB, 16 KB", _blocks),
    _row("System demand", "0%-100%"),
    _row("Processing adjustment", "0.1-1.0"),
    _row("Energy consumption", "10-500 W"),
    _row("Real-time processing latency", "100-500 ms"),
    _row("Threshold for scaling (high)", "70%-90%"),
    _row("Threshold for scaling (low)", "10%-30%"),
    _row("Quantum key length", "128, 256, 512 bits", _key_lengths),
    _row("Quantum noise tolerance", "1%-5%", _qbers),
    _row("Encryption efficiency", "80%-99%"),
    _row("Redundancy and fault tolerance", "1-5"),
    _row("Backup service status", "True/false"),
)
