"""Change points of one figure over commits (reports/change_points.py), on constructed
series: seeded noise, a known step, gaps, constant counts, too few commits."""

from __future__ import annotations

import numpy as np
import pytest

from reports.change_points import MIN_SEGMENT, NOISE_FLOOR, ChangePoint, change_points, noise

LABELS = [f"c{i:02d}" for i in range(40)]


def _series(seed: int, n: int = 30, step_at: int | None = 15, step: float = 0.03) -> list[float]:
    """1 % Gaussian noise around 10,000, times 1 + ``step`` from commit ``step_at`` on."""
    noisy = 1e4 * (1 + 0.01 * np.random.default_rng(seed).standard_normal(n))
    if step_at is not None:
        noisy = noisy * np.where(np.arange(n) >= step_at, 1 + step, 1.0)
    return [float(v) for v in noisy]


@pytest.mark.parametrize("seed", range(5))
def test_a_3_percent_step_in_1_percent_noise_is_found_at_its_commit(seed: int) -> None:
    [found] = change_points(_series(seed), LABELS[:30])
    assert (found.index, found.commit, found.before) == (15, "c15", "c14")
    assert found.segments == (15, 15)
    # Medians of 15 commits in 1 % noise: each about 0.3 % off, so the size within 1 point.
    assert abs(found.size - 0.03) < 0.01
    assert all(0.003 < n < 0.02 for n in found.noise)


def test_the_size_and_noise_of_seed_0_are_pinned() -> None:
    [found] = change_points(_series(0), LABELS[:30])
    assert round(found.size, 4) == 0.03
    assert [round(n, 4) for n in found.noise] == [0.0073, 0.008]


@pytest.mark.parametrize("seed", range(20))
def test_pure_1_percent_noise_has_no_change_point(seed: int) -> None:
    assert change_points(_series(seed, step_at=None), LABELS[:30]) == []


@pytest.mark.parametrize("seed", range(20))
def test_searched_with_many_series_noise_stays_quiet_and_a_large_step_shows(seed: int) -> None:
    """The penalty grows with the series searched together: 174 series of pure noise
    raise none, and an 8 % step still shows at its commit."""
    assert change_points(_series(seed, step_at=None), LABELS[:30], series=174) == []
    [found] = change_points(_series(seed, step=0.08), LABELS[:30], series=174)
    assert found.commit == "c15"


def test_more_series_searched_need_a_larger_step() -> None:
    # seed 4's 3 % step is found alone and lost among 174: the multiple-testing price
    values = _series(4, step=0.03)
    assert [c.commit for c in change_points(values, LABELS[:30], series=1)] == ["c15"]
    assert change_points(values, LABELS[:30], series=174) == []
    with pytest.raises(ValueError, match="series must be at least 1, got 0"):
        change_points(values, LABELS[:30], series=0)


def test_a_step_across_gaps_names_the_measured_commits_either_side() -> None:
    values: list[float | None] = list(_series(0))
    for i in (3, 14, 15, 22):  # commits 14 and 15 lack the figure: the step starts at 16
        values[i] = None
    [found] = change_points(values, LABELS[:30])
    assert (found.index, found.commit, found.before) == (16, "c16", "c13")
    assert found.segments == (13, 13)  # measured commits only
    assert abs(found.size - 0.03) < 0.01


def test_a_constant_count_with_one_2_percent_step() -> None:
    # Instruction counts that do not move: the noise estimate is zero, floored at 0.1 %.
    values = [4.6e6] * 12 + [4.6e6 * 1.02] * 12
    assert noise(np.log(values)) == 0
    assert change_points(values, LABELS[:24]) == [
        ChangePoint(12, "c12", "c11", pytest.approx(0.02), (12, 12), (0.0, 0.0))
    ]
    assert change_points([4.6e6] * 24, LABELS[:24]) == []


def test_jitter_below_the_noise_floor_is_not_a_change_point() -> None:
    # Half the floor, once: a count that wobbles by 0.05 % has not stepped.
    values = [4.6e6] * 24
    values[12] *= 1 + NOISE_FLOOR / 2
    assert change_points(values, LABELS[:24]) == []


def test_two_steps_give_two_change_points() -> None:
    values = [1000.0] * 8 + [1050.0] * 8 + [1000.0] * 8
    found = change_points(values, LABELS[:24])
    assert [(c.commit, round(c.size, 4), c.segments) for c in found] == [
        ("c08", 0.05, (8, 8)),
        ("c16", round(1000 / 1050 - 1, 4), (8, 8)),
    ]


def test_too_few_measured_commits_have_none() -> None:
    # 2 x MIN_SEGMENT measured commits is the least; one fewer (or a gap) is too few.
    least = [100.0] * MIN_SEGMENT + [110.0] * MIN_SEGMENT
    assert [c.commit for c in change_points(least, LABELS[:6])] == ["c03"]
    assert change_points(least[1:], LABELS[:5]) == []
    assert change_points([None, *least[1:]], LABELS[:6]) == []
    assert change_points([], []) == []


def test_a_shift_two_commits_before_the_end_is_placed_at_its_commit() -> None:
    # The search's minimum segment would put it one commit early; the refinement does not.
    values = [100.0] * 10 + [110.0] * 2
    assert [(c.commit, c.segments) for c in change_points(values, LABELS[:12])] == [
        ("c10", (10, 2))
    ]
    assert change_points(values[:-1], LABELS[:11]) == []  # the last commit alone: not yet


def test_a_value_at_or_below_zero_gives_no_change_points() -> None:
    assert change_points([0.0] + [100.0] * 5 + [110.0] * 6, LABELS[:12]) == []


def test_values_and_labels_must_pair() -> None:
    with pytest.raises(ValueError, match="3 values for 2 commits"):
        change_points([1.0, 2.0, 3.0], LABELS[:2])
