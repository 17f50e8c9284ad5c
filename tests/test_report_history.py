"""dthq history (gated figures over commits) and dthq report over several machines."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from browser import browser_page, watch
from click.testing import CliRunner
from test_reports import fake_benchmark_json

from bench.ingest import from_benchmark_json
from dthq.cli.main import main
from dthq.harness.results import InstructionCount, Results
from dthq.harness.results_json import dump
from reports.history import INSTRUCTIONS, TIME, History
from reports.machines import Machines

PSK = "handshake/dthq-mlkem768-psk"


def _commit(i: int, machine_scale: float, dthq: float, instructions: float) -> Results:
    """One commit's run: ``machine_scale`` slows everything, ``dthq`` only DTHQ's own
    timed figures, ``instructions`` DTHQ's handshake count."""
    r = from_benchmark_json(
        fake_benchmark_json(scale=machine_scale, dthq_slowdown=dthq), wall_time_s=100
    )
    counts = (
        InstructionCount(PSK, 4.6e6 * instructions, 3),
        InstructionCount("handshake/ecc-256", 3.35e6, 3),
        InstructionCount("handshake/dthq-mlkem768-mldsa", 9e6 * (1 + i / 10), 3, True),
    )
    meta = replace(r.metadata, commit=f"{i:02d}" + "ab" * 19)
    return replace(r, created=f"2026-11-{10 + i}T00:00:00", metadata=meta, instructions=counts)


def _write(tmp_path: Path, runs: list[Results]) -> list[str]:
    paths = []
    for i, r in enumerate(runs):
        (tmp_path / f"run{i}").mkdir()
        paths.append(str(dump(r, tmp_path / f"run{i}" / "results.json")))
    return paths


def test_history_orders_commits_and_flags_the_step_that_regressed(tmp_path: Path) -> None:
    # Commit 2 makes the handshake 6 % more instructions and DTHQ 30 % slower; the
    # machine also gets slower with every commit, which the floor cancels.
    runs = [_commit(i, 1 + 0.5 * i, *((1.3, 1.06) if i >= 2 else (1.0, 1.0))) for i in range(4)]
    paths = _write(tmp_path, runs)
    out = tmp_path / "history"
    result = CliRunner().invoke(main, ["history", *reversed(paths), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"{PSK} ({INSTRUCTIONS}): +6.0% between 01abababab -> 02abababab" in lines
    flagged = [line for line in lines if "between" in line]
    assert all("01abababab -> 02abababab" in line for line in flagged)
    # Only DTHQ's own timed figures moved against the floor; the baselines did not.
    assert any("table3 dthq-mlkem768-psk handshake_ms" in line for line in flagged)
    assert not any("rsa-2048" in line or "ecc-256" in line for line in flagged)
    # The randomised count is never a series.
    found = History.of(runs, [r.metadata.commit or "" for r in runs])
    assert "handshake/dthq-mlkem768-mldsa" not in {s.figure for s in found.series}
    psk = next(s for s in found.series if s.figure == PSK)
    assert psk.change is not None and abs(psk.change - 0.06) < 1e-9
    page = (out / "history.html").read_text()
    assert (out / "history.png").read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in page and "data:image/png;base64," in page and "http" not in page


def test_history_json_and_a_missing_figure(tmp_path: Path) -> None:
    runs = [_commit(i, 1.0, 1.0, 1.0) for i in range(3)]
    runs[1] = replace(runs[1], instructions=runs[1].instructions[1:])  # no psk count
    result = CliRunner().invoke(
        main, ["history", *_write(tmp_path, runs), "--out", str(tmp_path / "h"), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    psk = next(s for s in data["series"] if s["figure"] == PSK and s["kind"] == INSTRUCTIONS)
    assert psk["values"][1] is None and psk["change"] == 0
    assert data["flagged"] == []
    assert {s["kind"] for s in data["series"]} == {INSTRUCTIONS, TIME}


def test_history_of_unrelated_results_is_a_clear_error(tmp_path: Path) -> None:
    bare = replace(_commit(0, 1.0, 1.0, 1.0), primitives=(), instructions=())
    result = CliRunner().invoke(main, ["history", *_write(tmp_path, [bare, bare])])
    assert result.exit_code == 2 and "share no gated figure" in result.output


def test_several_machines_side_by_side_as_ratios(tmp_path: Path) -> None:
    fast, slow = _commit(0, 1.0, 1.0, 1.0), _commit(0, 2.5, 1.2, 1.0)
    machine = dict(slow.metadata.machine, cpu_model="Other CPU",
                   libraries={"cryptography": "51.0.0"})  # fmt: skip
    slow = replace(slow, metadata=replace(slow.metadata, machine=machine, node="other"))
    out = tmp_path / "machines"
    result = CliRunner().invoke(
        main, ["report", *_write(tmp_path, [fast, slow]), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "library cryptography differs: 50.0.2 on test, 51.0.0 on other" in result.stderr
    assert (out / "test" / "report.html").exists() and (out / "other" / "report.html").exists()
    md = (out / "machines.md").read_text()
    rows = {
        cells[0]: cells[1:]
        for line in md.splitlines()
        if (cells := [c.strip() for c in line.split("|")[1:-1]]) and cells[0].startswith("table")
    }
    # The reference is 1x on both machines, a baseline keeps its ratio although the second
    # machine is 2.5x slower, and DTHQ's 20 % slowdown shows as a 20 % higher ratio.
    assert rows["table3 tls13-x25519 handshake_ms"] == ["1x", "1x"]
    assert rows["table3 ecc-256 handshake_ms"][0] == rows["table3 ecc-256 handshake_ms"][1]
    a, b = (float(v.rstrip("x")) for v in rows["table3 dthq-mlkem768-psk handshake_ms"])
    assert abs(b / a - 1.2) < 0.02
    assert all(v.endswith("x") or v == "-" for vs in rows.values() for v in vs)
    machines = Machines.of([fast, slow], ["test", "other"])
    assert ["t3-order-latency", "does not hold", "does not hold"] in (machines.verdict_rows())
    assert not any(r[0] == "quick profile wall time" for r in machines.target_rows())
    assert [PSK, "4,600,000", "4,600,000"] in machines.instruction_rows()


def test_two_runs_from_one_machine_keep_both() -> None:
    r = _commit(0, 1.0, 1.0, 1.0)
    assert Machines.of([r, r], ["host", "host"]).names == ("host#1", "host#2")


@pytest.mark.slow  # a browser
@pytest.mark.requires("chromium", "playwright")
def test_history_and_machines_pages_render_in_chromium(tmp_path: Path) -> None:
    runs = [_commit(i, 1.0, 1.0 + 0.1 * i, 1.0 + 0.05 * i) for i in range(3)]
    paths = _write(tmp_path, runs)
    runner = CliRunner()
    assert runner.invoke(main, ["history", *paths, "--out", str(tmp_path / "h")]).exit_code == 0
    assert runner.invoke(main, ["report", *paths[:2], "--out", str(tmp_path / "m")]).exit_code == 0
    for page_path, svgs in ((tmp_path / "h" / "history.html", True),
                            (tmp_path / "m" / "machines.html", False)):  # fmt: skip
        with browser_page() as page:
            problems = watch(page)
            page.goto(page_path.as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => [e.complete, e.naturalWidth])"
            )
            sparklines = page.locator("svg polyline").count()
        assert problems == [], page_path.name
        assert images and all(done and width > 300 for done, width in images)
        assert (sparklines > 10) is svgs


def test_a_machine_named_dot_dot_stays_inside_out(tmp_path: Path) -> None:
    fast, slow = _commit(0, 1.0, 1.0, 1.0), _commit(0, 2.5, 1.2, 1.0)
    slow = replace(slow, metadata=replace(slow.metadata, node=".."))
    out = tmp_path / "inner" / "out"
    result = CliRunner().invoke(
        main, ["report", *_write(tmp_path, [fast, slow]), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "inner" / "report.html").exists()
    assert all(p.name == "out" for p in (tmp_path / "inner").iterdir())
    assert all(not p.name.startswith(".") for p in out.iterdir())
    assert (out / "_.").is_dir()


def test_history_marks_change_points_with_their_commit_and_size(tmp_path: Path) -> None:
    # Twelve commits on a machine that slows with each; from commit 6 the handshake takes
    # 2 % more instructions and DTHQ 5 % more time: both under the gate's thresholds, so no
    # consecutive step is flagged, but each is a change point at commit 6.
    runs = [_commit(i, 1 + 0.1 * i, *((1.05, 1.02) if i >= 6 else (1.0, 1.0))) for i in range(12)]
    paths = _write(tmp_path, runs)
    out = tmp_path / "history"
    result = CliRunner().invoke(main, ["history", *paths, "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    at = "change point at 06abababab"
    assert f"{PSK} ({INSTRUCTIONS}): {at}, +2.0 % (segments of 6 and 6 commits)" in lines
    timed = f"table3 dthq-mlkem768-psk handshake_ms ({TIME})"
    assert f"{timed}: {at}, +5.0 % (segments of 6 and 6 commits)" in lines
    marked = [line for line in lines if "change point" in line]
    assert all(at in line and "+5.0 %" in line for line in marked[1:])
    assert not any("rsa-2048" in line or "ecc-256" in line or "tls13" in line for line in marked)
    assert not any("between" in line for line in lines)
    page = (out / "history.html").read_text()
    assert "<h2>Change points</h2>" in page
    assert page.count('class="change-point"') == len(marked)
    data = json.loads(
        CliRunner().invoke(main, ["history", *paths, "--out", str(out), "--json"]).output
    )
    psk = next(c for c in data["change_points"] if c["figure"] == PSK)
    assert psk["commit"] == "06abababab" and psk["before"] == "05abababab"
    assert psk["index"] == 6 and psk["segments"] == [6, 6] and psk["noise"] == [0, 0]
    assert abs(psk["size"] - 0.02) < 1e-9
    assert {c["commit"] for c in data["change_points"]} == {"06abababab"}
    assert data["flagged"] == []
    # Grouped by commit and kind: the instruction count's +2 % and the times' +5 %.
    counted, timed_at = data["change_points_by_commit"]
    assert counted == {"commit": "06abababab", "kind": INSTRUCTIONS, "up": 1, "down": 0,
                       "median_size": pytest.approx(0.02)}  # fmt: skip
    assert (timed_at["kind"], timed_at["up"], timed_at["down"]) == (TIME, len(marked) - 1, 0)
    assert abs(timed_at["median_size"] - 0.05) < 1e-9
    assert (
        f"at 06abababab ({INSTRUCTIONS}): 1 figure changed (1 up, 0 down), median size 2.0%"
        in lines
    )
    n = len(marked) - 1
    assert f"at 06abababab ({TIME}): {n} figures changed ({n} up, 0 down), median size 5.0%" in (
        lines
    )
    assert "<h2>Change points by commit</h2>" in page


def test_a_few_commits_have_no_change_points(tmp_path: Path) -> None:
    # Five commits are one fewer than the least a change point needs; the step is flagged.
    runs = [_commit(i, 1.0, 1.0, 1.06 if i >= 3 else 1.0) for i in range(5)]
    data = json.loads(
        CliRunner()
        .invoke(main, ["history", *_write(tmp_path, runs), "--out", str(tmp_path / "h"), "--json"])
        .output
    )
    assert data["change_points"] == []
    assert [f["step"] for f in data["flagged"]] == ["02abababab -> 03abababab"]


def test_change_points_are_grouped_by_commit_and_kind_up_and_down_apart() -> None:
    from reports.history import History, Series

    labels = tuple(f"c{i:02d}" for i in range(12))
    up, down = (100.0,) * 6 + (105.0,) * 6, (100.0,) * 6 + (95.0,) * 6
    short = (100.0,) * 5 + (None,) * 7  # too few commits: not counted among those searched
    found = History(labels, (Series("a", INSTRUCTIONS, up), Series("b", INSTRUCTIONS, down),
                             Series("t", TIME, up), Series("s", TIME, short)))  # fmt: skip
    counted, timed = found.by_commit()
    # +5 % and -5 % do not cancel into "+0 %": the sizes' median is of their magnitudes
    assert (counted.commit, counted.kind, counted.up, counted.down) == ("c06", INSTRUCTIONS, 1, 1)
    assert counted.median_size == pytest.approx(0.05)
    assert (timed.kind, timed.up, timed.down) == (TIME, 1, 0)
    assert (
        counted.text
        == f"at c06 ({INSTRUCTIONS}): 2 figures changed (1 up, 1 down), median size 5.0%"
    )
