"""The gate's statistics and limits: pinned Wilcoxon p-values on constructed pairs,
Bonferroni's level, the fewest pairs at and past their boundary, soft and hard limits at
and past each limit, the limits file's errors, Clopper-Pearson bounds and the KS check."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.gate.compare import GateError, Verdict, judge
from bench.gate.limits import DEFAULT_FILE, Limit, Limits, load, parse
from bench.gate.paired import check_pairs, compare_paired
from bench.gate.stats import (
    bonferroni,
    clopper_pearson,
    ks_uniform,
    log_ratios,
    min_pairs,
    p_slower,
    upper_bound,
)

SOFT_1 = Limits("test", {"instructions": 0.01, "time": 0.01, "normalised": 0.10})


def test_wilcoxon_one_sided_p_values_are_the_exact_ones() -> None:
    assert p_slower([0.01, 0.02, 0.03, -0.005, 0.015, 0.025, 0.011]) == pytest.approx(2 / 128)
    assert p_slower([0.05, 0.06, 0.04, 0.07, 0.03, 0.08, -0.01, 0.09]) == pytest.approx(2 / 256)
    assert p_slower([0.01] * 7) == pytest.approx(2**-7)  # every pair slower: the smallest
    assert p_slower([0.05, -0.06, 0.04, -0.07, 0.03, -0.08, 0.01, -0.09]) == pytest.approx(0.875)
    assert p_slower([0.0] * 9) == 1.0  # no difference at all is no evidence


def test_log_ratios_pair_and_refuse() -> None:
    assert log_ratios([1.0, 2.0], [1.0, 4.0]) == pytest.approx([0.0, 0.693147], abs=1e-6)
    with pytest.raises(ValueError, match="unpaired"):
        log_ratios([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="not positive"):
        log_ratios([0.0], [1.0])


def test_fewest_pairs_at_and_past_the_boundary() -> None:
    assert (min_pairs(1), min_pairs(2), min_pairs(24)) == (7, 8, 12)
    assert min_pairs(1, alpha=1 / 128) == 7  # 2^-7 is exactly alpha: reachable
    check_pairs(7, 1)  # at the boundary: judged
    with pytest.raises(GateError, match="too few samples to judge: 6 base/head pairs"):
        check_pairs(6, 1)
    check_pairs(12, 24)
    with pytest.raises(GateError, match="need at least 12"):
        check_pairs(11, 24)
    assert bonferroni(0.01, 4) == pytest.approx(0.0025)


def _runs(ratios: dict[str, list[float]]) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    n = len(next(iter(ratios.values())))
    base = [{name: 100.0 for name in ratios} for _ in range(n)]
    head = [{name: 100.0 * r[i] for name, r in ratios.items()} for i in range(n)]
    return base, head


def test_paired_gate_decides_by_test_and_bonferroni() -> None:
    # 8 pairs, the smallest move faster: p = 2/256 = 0.0078, under 0.01, over 0.01 / 2
    moved = [1.05, 1.06, 1.04, 1.07, 1.03, 1.08, 0.99, 1.09]
    base, head = _runs({"a": moved})
    (alone,) = compare_paired(base, head, SOFT_1)
    assert alone.verdict is Verdict.SLOWER and alone.p_value == pytest.approx(2 / 256)
    assert alone.tripped == "soft 1.0%" and alone.ratio == pytest.approx(1.055, abs=1e-3)
    base, head = _runs({"a": moved, "b": [1.0] * 8})
    two = {c.figure: c for c in compare_paired(base, head, SOFT_1)}
    assert two["a"].verdict is Verdict.NOT_SIGNIFICANT  # Bonferroni: 0.0078 > 0.005
    # the same figure, randomised: not gated, so Bonferroni counts one figure again
    marked = {c.figure: c for c in compare_paired(base, head, SOFT_1, randomised={"b"})}
    assert marked["a"].verdict is Verdict.SLOWER and not marked["b"].gated
    # significant but inside the soft limit: not a regression
    base, head = _runs({"a": [1.005] * 8})
    assert compare_paired(base, head, SOFT_1)[0].verdict is Verdict.NOT_SIGNIFICANT
    # faster, significant and beyond the soft limit
    base, head = _runs({"a": [0.9] * 8})
    assert compare_paired(base, head, SOFT_1)[0].verdict is Verdict.FASTER


def test_paired_gate_cannot_judge_too_few_or_unpaired_runs() -> None:
    base, head = _runs({"a": [1.5] * 6})
    with pytest.raises(GateError, match="too few samples"):
        compare_paired(base, head, SOFT_1)  # a 50 % slowdown, yet never a regression
    with pytest.raises(GateError, match="not paired"):
        compare_paired(base, head[:-1], SOFT_1)
    with pytest.raises(GateError, match="a: a sample is not positive"):
        compare_paired([{"a": 0.0}] * 7, [{"a": 1.0}] * 7, SOFT_1)


def test_soft_and_hard_limits_at_and_past_each() -> None:
    limit = Limit(soft=0.01, hard=100.0)
    assert judge(1.01, 50.0, limit, True) == (Verdict.NOT_SIGNIFICANT, "")  # at soft
    assert judge(1.0101, 50.0, limit, True) == (Verdict.SLOWER, "soft 1.0%")  # past it
    assert judge(1.5, 50.0, limit, False) == (Verdict.NOT_SIGNIFICANT, "")  # not significant
    assert judge(1.0, 100.0, limit, False) == (Verdict.NOT_SIGNIFICANT, "")  # at hard
    assert judge(1.0, 100.001, limit, False) == (Verdict.SLOWER, "hard 100")  # past: always
    assert judge(0.99, 50.0, limit, True) == (Verdict.NOT_SIGNIFICANT, "")
    assert judge(0.98, 50.0, limit, True) == (Verdict.FASTER, "")
    assert judge(1.0, 4_000_001.0, Limit(0.01, 4e6), False)[1] == "hard 4,000,000"
    # a baseline beyond the hard limit too: not this environment's limit, the soft decides
    assert judge(1.0, 101.0, limit, False, baseline=101.0) == (Verdict.NOT_SIGNIFICANT, "")
    assert judge(1.0, 101.0, limit, False, baseline=100.0) == (Verdict.SLOWER, "hard 100")
    assert judge(1.02, 102.0, limit, True, baseline=101.0) == (Verdict.SLOWER, "soft 1.0%")


def test_the_shipped_limits_file() -> None:
    limits = load(DEFAULT_FILE)
    assert limits.soft == {"instructions": 0.01, "time": 0.01, "normalised": 0.10}
    psk = limits.of("instructions", "handshake/dthq-mlkem768-psk")
    assert psk.soft == 0.01 and psk.hard == 3_980_000
    assert limits.of("instructions", "no such figure") == Limit(0.01)
    overridden = limits.with_soft("instructions", 0.03)
    assert overridden.of("instructions", "handshake/dthq-mlkem768-psk") == Limit(0.03, 3_980_000)


GOOD = '[instructions]\nsoft = "1%"\n[time]\nsoft = 0.02\n[normalised]\nsoft = "10%"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace('[normalised]\nsoft = "10%"\n', ""), "[normalised] is missing"),
        (GOOD.replace('soft = "1%"', 'soft = "lots%"'), "instructions.soft: 'lots%' is not a"),
        (GOOD.replace('soft = "1%"', "soft = true"), "instructions.soft: True must be"),
        (GOOD.replace('soft = "1%"', 'soft = "-1%"'), "must be at least 0"),
        (GOOD.replace('soft = "1%"', 'sfot = "1%"'), "instructions.sfot: unknown key"),
        (GOOD.replace('soft = "1%"', 'threshold = "1%"'), "instructions.threshold: unknown"),
        (GOOD + '[instructions.figures."x"]\nhard = -5\n', 'figures."x".hard: -5 must be'),
        (GOOD + '[instructions.figures."x"]\nhard = "big"\n', "'big' must be a positive"),
        (GOOD + '[instructions.figures."x"]\nceiling = 5\n', 'figures."x".ceiling: unknown'),
        (GOOD + "[cpu]\nsoft = 1\n", "cpu: unknown key"),
    ],
)
def test_a_bad_limits_file_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    import tomllib

    with pytest.raises(GateError, match="^test.toml: .*" + _escape(message)):
        parse(tomllib.loads(text), "test.toml")


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def test_a_limits_file_that_is_not_toml_or_not_there(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[instructions\n")
    with pytest.raises(GateError, match=_escape("bad.toml: not a TOML limits file")):
        load(tmp_path / "bad.toml")
    with pytest.raises(GateError, match=_escape("gone.toml: cannot read the limits file")):
        load(tmp_path / "gone.toml")
    (tmp_path / "good.toml").write_text(GOOD + '[time.figures."f"]\nsoft = "5%"\nhard = 0.5\n')
    assert load(tmp_path / "good.toml").of("time", "f") == Limit(0.05, 0.5)


def test_clopper_pearson_bounds() -> None:
    assert upper_bound(0, 20) == pytest.approx(1 - 0.05 ** (1 / 20))  # 0.139
    assert upper_bound(1, 20) == pytest.approx(0.216106, abs=1e-6)
    assert clopper_pearson(1, 10) == pytest.approx((0.002529, 0.445016), abs=1e-6)
    assert clopper_pearson(10, 10)[1] == 1.0 and clopper_pearson(0, 10)[0] == 0.0
    with pytest.raises(ValueError):
        upper_bound(3, 2)


def test_ks_of_uniform_and_of_piled_up_p_values() -> None:
    d, p = ks_uniform([(i + 0.5) / 20 for i in range(20)])
    assert d == pytest.approx(0.025) and p == pytest.approx(1.0)
    d, p = ks_uniform([0.01] * 20)
    assert d == pytest.approx(0.99) and p < 1e-30
    with pytest.raises(ValueError):
        ks_uniform([0.5])
