"""The regression gate: ratios to the primitive floor, per-operation counts, pooled
reruns, thresholds, and `dthq compare`'s exit codes and JSON."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_reports import COUNTS, results

from bench.gate.compare import (
    GateError,
    Verdict,
    compare,
    compare_per_op,
    parse_threshold,
    run_gate,
)
from bench.gate.limits import Limits
from dthq.cli.main import main
from dthq.harness.results_json import dump

NO_HARD = '[instructions]\nsoft = "1%"\n[time]\nsoft = "1%"\n[normalised]\nsoft = "10%"\n'


def soft(fraction: float) -> Limits:
    """One soft limit for every metric, no hard limits."""
    return Limits("test", {"instructions": fraction, "time": fraction, "normalised": fraction})


def test_the_per_operation_gate() -> None:
    base = [{"a": 1000.0, "b": 100.0, "r": 50.0}, {"a": 1001.0, "b": 100.0, "r": 52.0}]
    head = [{"a": 1040.0, "b": 96.0, "r": 80.0}, {"a": 1041.0, "b": 96.0, "r": 82.0}]
    changes = {c.figure: c for c in compare_per_op(base, head, soft(0.03), randomised={"r"})}
    assert changes["a"].verdict is Verdict.SLOWER and changes["a"].ratio == pytest.approx(1.04)
    assert changes["b"].verdict is Verdict.FASTER
    assert changes["r"].verdict is Verdict.SLOWER and not changes["r"].gated  # reported only
    # inside the runs' own spread: not significant, however far past the threshold
    noisy = compare_per_op([{"a": 100.0}, {"a": 150.0}], [{"a": 120.0}], soft(0.03))
    assert noisy[0].verdict is Verdict.NOT_SIGNIFICANT
    with pytest.raises(GateError):
        compare_per_op([], head, soft(0.03))


def test_compare_instruction_counts_of_two_files(tmp_path: Path) -> None:
    base = replace(results(), instructions=COUNTS)
    slower = replace(
        base, instructions=(replace(COUNTS[0], per_op=COUNTS[0].per_op * 1.05), *COUNTS[1:])
    )
    for name, r in (("a", base), ("b", slower), ("none", results())):
        dump(r, tmp_path / f"{name}.json")
    # the fixture's counts are not today's: the shipped hard limits would trip them
    (tmp_path / "limits.toml").write_text(NO_HARD)
    args = ["compare", str(tmp_path / "a.json"), "--metric", "instructions"]
    args += ["--limits", str(tmp_path / "limits.toml")]
    out = CliRunner().invoke(main, [*args[:2], str(tmp_path / "b.json"), *args[2:]])
    assert out.exit_code == 3, out.output
    assert "handshake/dthq-mlkem768-psk" in out.output and "slower" in out.output
    assert "threshold 1.0%" in out.output  # the instruction metric's default (limits.toml)
    same = CliRunner().invoke(main, [*args[:2], str(tmp_path / "a.json"), *args[2:]])
    assert same.exit_code == 0, same.output
    missing = CliRunner().invoke(main, [*args[:2], str(tmp_path / "none.json"), *args[2:]])
    assert missing.exit_code == 2 and "no instruction counts" in missing.output  # bad input


def test_gate_passes_a_uniformly_slower_machine() -> None:
    changes = compare(results(), results(scale=2.5), soft(0.10))
    assert not [c for c in changes if c.verdict != "not significant"]


def test_gate_fails_a_slower_dthq() -> None:
    changes = compare(results(), results(dthq_slowdown=1.5), soft(0.10))
    slower = {c.figure for c in changes if c.verdict is Verdict.SLOWER}
    assert "table3 dthq-mlkem768-psk handshake_ms" in slower
    assert "table4 256-far-small al_ms" in slower
    assert not any("rsa" in name or "primitive" in name for name in slower)


def test_gate_reports_improvements_apart() -> None:
    changes = compare(results(dthq_slowdown=1.5), results(), soft(0.10))
    assert {c.verdict for c in changes} == {Verdict.FASTER, Verdict.NOT_SIGNIFICANT}


def test_gate_pools_reruns_by_their_fastest_round(tmp_path: Path) -> None:
    # One current run hit by contention on DTHQ's figures only, one clean rerun: pooled,
    # the clean run's fastest rounds decide; alone, the contended run fails the gate.
    contended, clean = results(dthq_slowdown=1.8), results(scale=1.3)
    assert any(c.verdict is Verdict.SLOWER for c in compare(results(), contended, soft(0.1)))
    pooled = compare([results(), results(scale=1.1)], [contended, clean], soft(0.1))
    assert {c.verdict for c in pooled} == {Verdict.NOT_SIGNIFICANT}
    # A regression present in every rerun still fails.
    slow = [results(dthq_slowdown=1.8), results(dthq_slowdown=1.8, scale=1.2)]
    assert any(c.verdict is Verdict.SLOWER for c in compare(results(), slow, soft(0.1)))
    paths = {}
    for name, r in (("base", results()), ("contended", contended), ("clean", clean)):
        paths[name] = tmp_path / f"{name}.json"
        dump(r, paths[name])
    alone = CliRunner().invoke(main, ["compare", str(paths["base"]), str(paths["contended"])])
    assert alone.exit_code == 3, alone.output
    base, contended_path, clean_path = (str(paths[n]) for n in ("base", "contended", "clean"))
    both = CliRunner().invoke(
        main, ["compare", base, contended_path, "--current-rerun", clean_path]
    )
    assert both.exit_code == 0, both.output
    with pytest.raises(GateError, match="no results"):
        compare([], results(), soft(0.1))


def test_compare_cli_exit_codes(tmp_path: Path) -> None:
    paths = {}
    for name, kw in (("base", {}), ("same", {"scale": 1.7}), ("slow", {"dthq_slowdown": 2.0})):
        paths[name] = tmp_path / f"{name}.json"
        dump(results(**kw), paths[name])
    ok = CliRunner().invoke(main, ["compare", str(paths["base"]), str(paths["same"])])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(
        main, ["compare", str(paths["base"]), str(paths["slow"]), "--threshold", "10%"]
    )
    assert bad.exit_code == 3 and "slower" in bad.output
    wrong = CliRunner().invoke(
        main, ["compare", str(paths["base"]), str(paths["slow"]), "--threshold", "lots"]
    )
    assert wrong.exit_code == 2 and wrong.output.startswith("error: ")


def test_parse_threshold() -> None:
    assert parse_threshold("10%") == pytest.approx(0.1)
    assert parse_threshold("0.25") == pytest.approx(0.25)
    with pytest.raises(ValueError):
        parse_threshold("-5%")


def test_unchanged_input_is_not_mutated() -> None:
    base = results()
    snapshot = copy.deepcopy(base)
    compare(base, results(), soft(0.1))
    assert base == snapshot


def test_gate_warns_when_library_versions_differ(tmp_path: Path) -> None:
    base = results()
    machine = dict(base.metadata.machine, libraries={"cryptography": "51.0.0"})
    current = replace(base, metadata=replace(base.metadata, machine=machine))
    gate = run_gate(base, current, soft(0.1))
    assert gate.warnings == ["library cryptography differs: 50.0.2 in the baseline, 51.0.0 now"]
    assert not gate.failed
    dump(base, tmp_path / "a.json")
    dump(current, tmp_path / "b.json")
    out = CliRunner().invoke(main, ["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")])
    assert out.exit_code == 0 and "warning: library cryptography differs" in out.output
    assert run_gate(base, results(), soft(0.1)).warnings == []
    gone = replace(base, metadata=replace(base.metadata, machine=dict(machine, libraries={})))
    assert run_gate(base, gone, soft(0.1)).warnings == [
        "library cryptography differs: 50.0.2 in the baseline, absent now"  # as report says
    ]


def test_compare_json(tmp_path: Path) -> None:
    dump(results(), tmp_path / "a.json")
    dump(results(dthq_slowdown=2.0), tmp_path / "b.json")
    out = CliRunner().invoke(
        main, ["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json"]
    )
    assert out.exit_code == 3
    data = json.loads(out.output)
    assert data["failed"] is True
    slow = [c for c in data["changes"] if c["verdict"] == "slower"]
    assert slow and all(c["gated"] for c in slow)


def test_compare_names_the_file_and_field_it_cannot_divide_by(tmp_path: Path) -> None:
    base = results()
    zero = copy.deepcopy(base)
    p0 = zero.primitives[0]
    zero = replace(
        zero,
        primitives=(replace(p0, time_us=replace(p0.time_us, min=0.0, median=0.0)),
                    *zero.primitives[1:]),
    )  # fmt: skip
    none = replace(base, primitives=())
    other = replace(base, primitives=tuple(replace(p, name=p.name + "-x") for p in base.primitives))
    for name, r in (("base", base), ("zero", zero), ("none", none), ("other", other)):
        dump(r, tmp_path / f"{name}.json")

    def run(name: str) -> tuple[int, str]:
        out = CliRunner().invoke(main, ["compare", str(tmp_path / "base.json"),
                                        str(tmp_path / f"{name}.json")])  # fmt: skip
        return out.exit_code, out.output

    code, text = run("zero")
    assert code == 2 and f"zero.json: primitives[0].time_us ({p0.name}): fastest round 0" in text
    assert "Traceback" not in text
    code, text = run("none")
    assert code == 2 and "none.json: holds no primitive times" in text
    code, text = run("other")
    assert code == 2 and "no primitive is shared by" in text and "other.json" in text


def test_file_compare_refuses_options_of_against(tmp_path: Path) -> None:
    dump(results(), tmp_path / "a.json")
    a = str(tmp_path / "a.json")
    for extra in (["--set", "full"], ["--figures", "x"], ["--honour-trailer"]):
        out = CliRunner().invoke(main, ["compare", a, a, *extra])
        assert out.exit_code == 2 and f"{extra[0]}: only with --against REV" in out.output


def test_against_json_when_the_gate_cannot_run_is_json(monkeypatch: pytest.MonkeyPatch) -> None:
    import bench.gate.assemble
    from bench.against import NoParent

    def no_parent(*_: object, **__: object) -> None:
        raise NoParent("no commit 'HEAD~1' to compare with (a shallow clone)")

    monkeypatch.setattr(bench.gate.assemble, "gate_against", no_parent)
    out = CliRunner().invoke(main, ["compare", "--against", "HEAD~1", "--json"])
    assert out.exit_code == 0, out.output
    got = json.loads(out.stdout)
    assert got["failed"] is False and "shallow clone" in got["gate_not_run"]


def test_exit_codes_pass_regression_and_could_not_judge(tmp_path: Path) -> None:
    psk = COUNTS[0].per_op  # the handshake's count in the fixture
    base = replace(results(), instructions=COUNTS)
    crept = replace(base, instructions=(replace(COUNTS[0], per_op=psk * 1.003), *COUNTS[1:]))
    dump(base, tmp_path / "a.json")
    dump(crept, tmp_path / "b.json")
    a, b = str(tmp_path / "a.json"), str(tmp_path / "b.json")
    # +0.3 %, inside the 1 % soft limit: the hard limit alone decides, just past or at it
    for hard, code, tripped in ((psk + 1, 3, f"hard {psk + 1:,.0f}"), (psk * 1.003, 0, "")):
        (tmp_path / "l.toml").write_text(
            NO_HARD + f'[instructions.figures."{COUNTS[0].figure}"]\nhard = {hard}\n'
        )
        args = ["compare", a, b, "--metric", "instructions", "--limits", str(tmp_path / "l.toml")]
        out = CliRunner().invoke(main, [*args, "--json"])
        assert out.exit_code == code, out.output
        changes = json.loads(out.output)["changes"]
        (change,) = [c for c in changes if c["figure"] == COUNTS[0].figure]
        assert change["tripped"] == tripped
        assert change["p_value"] is None  # counts: no test
    # both sides beyond it: not this environment's limit, a warning, the soft limit decides
    (tmp_path / "l.toml").write_text(
        NO_HARD + f'[instructions.figures."{COUNTS[0].figure}"]\nhard = {psk - 1}\n'
    )
    stale = CliRunner().invoke(main, args)
    assert stale.exit_code == 0, stale.output
    assert "is beyond its hard limit" in stale.output and "not this environment's" in stale.output
    (tmp_path / "l.toml").write_text(
        NO_HARD + f'[instructions.figures."{COUNTS[0].figure}"]\nhard = {psk + 1}\n'
    )
    text = CliRunner().invoke(main, args)
    assert text.exit_code == 3 and "limit tripped" in text.output and "hard " in text.output
    # a bad limits file: the harness's failure, never a regression
    (tmp_path / "bad.toml").write_text(NO_HARD.replace('soft = "1%"', 'soft = "x%"', 1))
    bad = CliRunner().invoke(main, ["compare", a, a, "--limits", str(tmp_path / "bad.toml")])
    assert bad.exit_code == 2 and "instructions.soft: 'x%' is not a percentage" in bad.output
    assert "Traceback" not in bad.output
    pairs = CliRunner().invoke(main, ["compare", a, a, "--pairs", "20"])
    assert pairs.exit_code == 2 and "--pairs: only with --against REV" in pairs.output


def test_too_few_pairs_is_exit_2_before_measuring() -> None:
    args = ["compare", "--against", "HEAD", "--metric", "time"]
    args += ["--figures", "handshake/dthq-mlkem768-psk,record/256-far-small", "--pairs", "7"]
    out = CliRunner().invoke(main, args)  # 2 figures need 8 pairs
    assert out.exit_code == 2, out.output
    assert "too few samples to judge: 7 base/head pairs" in out.output and "--pairs 8" in out.output


def test_a_crashed_driver_is_exit_2_not_a_regression(monkeypatch: pytest.MonkeyPatch) -> None:
    import bench.against
    from bench.instructions import InstructionCountError

    def crashed(*_: object, **__: object) -> None:
        raise InstructionCountError("the instruction-count driver failed (exit -11): Segfault")

    monkeypatch.setattr(bench.against, "measure", crashed)
    out = CliRunner().invoke(main, ["compare", "--against", "HEAD"])
    assert out.exit_code == 2, out.output
    assert "error: the gate could not run: the instruction-count driver failed" in out.output


@pytest.mark.requires("valgrind")
def test_missing_valgrind_is_exit_2(tmp_path: Path) -> None:
    import os
    import shutil
    import subprocess
    import sys

    only_git = tmp_path / "bin"
    only_git.mkdir()
    (only_git / "git").symlink_to(shutil.which("git") or "/usr/bin/git")
    out = subprocess.run(
        [sys.executable, "-m", "dthq.cli", "compare", "--against", "HEAD",
         "--figures", "handshake/dthq-mlkem768-psk"],
        env=dict(os.environ, PATH=str(only_git)), capture_output=True, text=True, timeout=120,
        cwd=Path(__file__).resolve().parent.parent, check=False,
    )  # fmt: skip
    assert out.returncode == 2, out.stdout + out.stderr
    assert "valgrind is not installed" in out.stderr
