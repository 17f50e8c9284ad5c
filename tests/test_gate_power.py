"""The gate's power benchmark, from constructed raw runs to the report: every rate the
analysis derives (pinned), the strict reader of its JSON, and the report's section
choosing the results directory's file over the committed reference."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bench.gate.limits import Limits
from bench.gate.power_analysis import FIGURE, analyse, markdown
from reports import gate_power
from reports.render.text import section_markdown

LIMITS = Limits("test", {"instructions": 0.01, "time": 0.01, "normalised": 0.1})
RECORD = "record/256-far-small"


def raw() -> dict[str, Any]:
    """Three unchanged counts (the record moves +0.8 % once), two reps a step; time: two
    A/A comparisons of 7 pairs, each injected step 5 % slower in every pair."""
    same = [{FIGURE: 1000.0, RECORD: 100.0}, {FIGURE: 1000.0, RECORD: 100.8},
            {FIGURE: 1000.0, RECORD: 100.0}]  # fmt: skip
    steps = {f"{f:g}": {"loops": 1, "counts": [1000 * (1 + f)] * 2} for f in (0.01, 0.02)}
    even = {"base": [1.0] * 7, "head": [1.01, 0.99, 1.02, 0.98, 1.03, 0.97, 1.0]}
    slow = {"base": [1.0] * 7, "head": [1.05] * 7}
    return {
        "machine": "x86_64, test", "cores": 2, "commit": "0123456789abcdef", "date": "2026-01-01",
        "valgrind": "valgrind-3.19.0", "figure": FIGURE, "wall_s": 5,
        "instructions": {"aa": same, "per_loop": 1.0, "base": [1000.0, 1000.0],
                         "injected": steps},
        "time": {"pairs": 7, "aa": [even, even], "per_loop_s": 1e-9,
                 "injected": {"0.05": {"loops": 1, "comparisons": [slow, slow]}}},
    }  # fmt: skip


def test_the_rates_derived_from_raw_runs() -> None:
    s = analyse(raw(), LIMITS)
    ins = s["instructions"]
    assert (ins["comparisons"], ins["figures"]) == (2, 2)
    assert ins["worst_spread_figure"] == RECORD and ins["worst_spread"] == pytest.approx(0.008)
    assert ins["false_alarms"]["0.005"]["runs"]["k"] == 1  # +0.8 % past 0.5 %
    assert ins["false_alarms"]["0.005"]["figures"] == pytest.approx(
        {"k": 1, "n": 4, "rate": 0.25, "upper95": 0.751395}, abs=1e-5
    )
    assert ins["false_alarms"]["0.01"]["runs"]["k"] == 0
    assert ins["detection"]["0.005"]["0.01"]["k"] == 2  # +1 % past 0.5 %
    assert ins["detection"]["0.01"]["0.01"]["k"] == 0  # at the soft limit: within
    assert ins["detection"]["0.01"]["0.02"]["k"] == 2
    assert ins["detection"]["configured"] == ins["detection"]["0.01"]
    tim = s["time"]
    # the zero pair dropped, six left: exact p = 42/64 for both
    assert tim["aa_p_values"] == pytest.approx([42 / 64, 42 / 64])
    assert tim["ks"]["D"] == pytest.approx(42 / 64)
    assert tim["levels"] == pytest.approx({"1 figure": 0.01, "2 figures": 0.005})
    # every pair 5 % slower: p = 2^-7 = 0.0078, under 0.01, over 0.005
    assert tim["detection"]["1 figure, soft 0.01"]["0.05"]["k"] == 2
    assert tim["detection"]["1 figure, soft 0.1"]["0.05"]["k"] == 0  # inside 10 %
    assert tim["detection"]["2 figures, soft 0"]["0.05"]["k"] == 0
    assert tim["false_alarms"]["1 figure, soft 0"]["k"] == 0
    assert tim["measured"]["0.05"] == pytest.approx(0.05)


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    (tmp_path / "gate-power.json").write_text(json.dumps(data))
    return tmp_path


def measured() -> dict[str, Any]:
    r = raw()
    return r | {"summary": analyse(r, LIMITS)}


def test_the_section_reads_the_results_directory_first(tmp_path: Path) -> None:
    section = gate_power.section(_write(tmp_path, measured()))
    assert section is not None and section.title == "Regression gate: measured error rates"
    text = section_markdown(section, "test machine")
    assert "measured by `nox -s power` into this results directory" in text
    assert "x86_64, test (2 cores, shared with other work), commit 0123456789" in text
    rows = [" ".join(line.split()) for line in text.splitlines()]
    assert (
        "| 0.5% | 1/2 (50%; <= 97%) | 1/4 (25%; <= 75%) | 2/2 (100%; <= 100%) | 2/2 "
        "(100%; <= 100%) |" in rows
    )
    assert (
        "| configured | 0/2 (0%; <= 78%) | 0/4 (0%; <= 53%) | 0/2 (0%; <= 78%) | 2/2 "
        "(100%; <= 100%) |" in rows
    )
    assert "| 1 figure, soft 0.01 | 0/2 (0%; <= 78%) | 2/2 (100%; <= 100%) |" in rows
    assert "| 2 figures, soft 0 | 0/2 (0%; <= 78%) | 0/2 (0%; <= 78%) |" in rows
    assert "D = 0.656, p = 0.236" in text and "no p-value" in text
    assert markdown(measured()).startswith("# The regression gate's error rates (measured)")


def test_without_a_fresh_file_the_reference_says_so(tmp_path: Path) -> None:
    path, why = gate_power.chosen(tmp_path)
    assert path == gate_power.REFERENCE and "the committed reference" in why
    assert gate_power.REFERENCE.is_file()  # committed with the measured figures
    section = gate_power.section(tmp_path)
    assert section is not None
    assert "the committed reference" in section_markdown(section, "m")


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda d: d["summary"]["time"].pop("pairs"), "summary.time.pairs is missing"),
        (lambda d: d.update(cores="two"), "cores is str, not the expected type"),
        (lambda d: d["summary"]["time"]["ks"].update(D=True), "summary.time.ks.D is bool"),
        (lambda d: d["summary"]["time"]["false_alarms"]["1 figure, soft 0"].update(k=9),
         "9 of 2, bound"),
        (lambda d: d["summary"]["instructions"]["detection"].update(
            {"0.005": {"lots": d["summary"]["instructions"]["detection"]["0.005"]["0.01"]}}),
         "a key is not an injected fraction"),
        (lambda d: d.pop("summary"), "gate-power.json: summary is missing"),
        (lambda d: d["summary"]["time"]["detection"].pop("1 figure, soft 0"),
         'summary.time.detection["1 figure, soft 0"] is missing'),
    ],
)  # fmt: skip
def test_a_malformed_file_is_a_clear_error(tmp_path: Path, spoil: Any, message: str) -> None:
    data = measured()
    spoil(data)
    with pytest.raises(gate_power.PowerFileError, match=re.escape("gate-power.json: ")) as caught:
        gate_power.section(_write(tmp_path, data))
    assert message in str(caught.value)


def test_a_file_that_is_not_json(tmp_path: Path) -> None:
    (tmp_path / "gate-power.json").write_text("{")
    with pytest.raises(gate_power.PowerFileError, match=re.escape("gate-power.json: not JSON")):
        gate_power.section(tmp_path)
