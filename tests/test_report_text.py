"""The report's text files, pinned: every Markdown and CSV file that write_report writes
for three constructed runs, line for line (blank lines aside), against a golden copy.
Each claim's and target's rendered verdict, every table row and every count in the
summary is in these files, so a refactor of the judges' shape cannot change what they
decide. Regenerate the golden copy only for a change that means to alter a report:
``python tests/test_report_text.py``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from test_fleet_report import CURVE
from test_report_scale import failover_run
from test_reports import COUNTS, results
from test_scheme_verdicts import scheme
from test_store_report import POINTS

from dthq.harness.results import Results
from reports import gate_power
from reports.build import write_report
from reports.verdicts import formal_claims

STORE = POINTS()
GOLDEN = Path(__file__).parent / "data" / "report-text.json"
# The formal model's claims, constructed: the report must not change with formal/'s file.
FORMAL = Path(__file__).parent / "data" / "formal-claims.json"
# The gate's error rates, constructed (test_gate_power's): nor with a re-measured reference.
GATE_POWER = Path(__file__).parent / "data" / "gate-power.json"


def runs() -> dict[str, Results]:
    """A run with every section, a slow DTHQ on a full profile with instruction counts and
    fleets, and a run that measured nothing but its primitives."""
    # the schemes suite's three rows: DTHQ lower at p50 and p99, TLS's held rate higher
    schemes = (scheme("dthq", 8.0, 480.0), scheme("tls", 10.0, 520.0, storm=0.5),
               scheme("dthq+tls", 11.0, None, storm=0.6))  # fmt: skip
    base = dataclasses.replace(results(), schemes=schemes, store=STORE)
    slow = dataclasses.replace(
        results(dthq_slowdown=3.0, profile="full"),
        instructions=COUNTS,
        fleet=CURVE,
        failover=(failover_run(),),
    )
    empty = dataclasses.replace(
        base, table3=(), table4=(), forged_hello=(), qkd_sweep=(), qkd_keys=(), cascade=(),
        pipeline=(), store=(),
    )  # fmt: skip
    return {"every section": base, "slow dthq, full": slow, "primitives only": empty}


def texts(run: Results, out: Path) -> dict[str, list[str]]:
    write_report(run, out)
    return {
        p.name: [line for line in p.read_text().splitlines() if line.strip()]
        for p in sorted(out.iterdir())
        if p.suffix in (".md", ".csv")
    }


@pytest.mark.parametrize("name", list(runs()))
def test_the_report_text_is_unchanged(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(formal_claims, "CLAIMS_FILE", FORMAL)
    monkeypatch.setattr(gate_power, "REFERENCE", GATE_POWER)
    golden = json.loads(GOLDEN.read_text())[name]
    found = texts(runs()[name], tmp_path)
    assert sorted(found) == sorted(golden)
    for file, lines in golden.items():
        assert found[file] == lines, file


if __name__ == "__main__":
    import tempfile

    formal_claims.CLAIMS_FILE = FORMAL
    gate_power.REFERENCE = GATE_POWER
    with tempfile.TemporaryDirectory() as tmp:
        made = enumerate(runs().items())
        data = {name: texts(run, Path(tmp) / str(i)) for i, (name, run) in made}
    GOLDEN.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
