"""Stability checks (pyperf's), interleaved rounds and bootstrap intervals: each
documented boundary at it and past it."""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from dthq.harness import bootstrap, rounds, stability


def _with_cv(cv: float) -> list[float]:
    """Three values of mean 100 whose sample stdev is ``cv`` of the mean."""
    return [100 - 100 * cv, 100.0, 100 + 100 * cv]


def test_cv_under_the_limit_is_stable_and_at_it_is_not() -> None:
    # pyperf warns at 10 % itself ("percent >= 10.0"), not only past it
    assert stability.check(_with_cv(0.0999)).stable
    at = stability.check(_with_cv(0.10))
    assert not at.stable
    assert at.warnings == ("the standard deviation is 10% of the mean (10% or more)",)
    assert at.cv == pytest.approx(0.10)


def test_extremes_under_half_the_mean_and_at_it() -> None:
    # mean 100 exactly; max at 150 is the boundary (cv stays under 10 % with many values)
    under = [149.8, 50.2] + [100.0] * 998
    assert statistics.fmean(under) == 100
    assert stability.check(under).warnings == ()
    at = [150.0, 50.0] + [100.0] * 998
    assert stability.check(at).warnings == (
        "the maximum is 50% above the mean",
        "the minimum is 50% below the mean",
    )


def test_shortest_raw_value_at_one_millisecond_and_under_it() -> None:
    assert stability.check([1.0] * 5, shortest_raw_s=1e-3).stable
    short = stability.check([1.0] * 5, shortest_raw_s=0.999e-3)
    assert short.warnings == ("the shortest raw value is only 0.999 ms (under 1 ms)",)


def test_too_few_values_cannot_be_stable() -> None:
    found = stability.check([1.0, 1.0])
    assert found.cv is None
    assert found.warnings == ("only 2 values: no spread to judge",)
    assert stability.check([1.0, 1.0, 1.0]) == stability.Stability(0.0, ())


def test_blocks_are_contiguous_means() -> None:
    assert stability.blocks([1, 2, 3, 10, 20, 30], count=2) == [2, 20]
    assert stability.blocks([5, 1, 9, 7], count=10) == [5.5]  # 4 samples: one block
    assert stability.blocks([1, 1, 10], count=1) == [4]  # a mean: the slow round shows
    assert stability.blocks(list(range(31)), count=10) == [1.5, 5, 8, 11, 14, 17, 20, 23, 26, 29]


def test_interleaved_rounds_time_every_call_each_round() -> None:
    seen: list[str] = []
    calls = {"a": lambda: seen.append("a"), "b": lambda: seen.append("b")}
    got = rounds.interleaved(calls, 4, {"a": 2, "b": 3}, seed=1)
    assert {k: len(v) for k, v in got.items()} == {"a": 4, "b": 4}
    assert seen.count("a") == 8 and seen.count("b") == 12
    with pytest.raises(ValueError, match="no loop count"):
        rounds.interleaved(calls, 1, {"a": 1})
    with pytest.raises(ValueError, match="at least 1"):
        rounds.interleaved(calls, 0, {"a": 1, "b": 1})


def test_calibrate_reaches_the_round_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    # a call of exactly 1 us: 200 loops make 0.2 ms, just over a 0.199 ms floor; 100 fall
    # short of it, and 200 of a 0.201 ms floor
    monkeypatch.setattr(rounds, "time_round", lambda fn, loops: 1e-6)
    assert rounds.calibrate(lambda: None, min_round_s=1.99e-4) == 200
    assert rounds.calibrate(lambda: None, min_round_s=2.01e-4) == 500
    assert rounds.calibrate(lambda: None, min_round_s=0) == 1


def test_interval_sides_at_and_past_the_limit() -> None:
    band = bootstrap.Interval(0.9, 1.1)
    assert band.side_of(1.1) == 0 and band.side_of(0.9) == 0
    assert band.side_of(1.1001) == -1 and band.side_of(0.8999) == 1
    with pytest.raises(ValueError):
        bootstrap.Interval(1.0, 0.9)


def test_median_interval_is_seeded_and_holds_the_median() -> None:
    values = [1.0 + 0.01 * (i % 7) for i in range(50)]
    first = bootstrap.median_interval(values)
    assert first == bootstrap.median_interval(values)
    assert first.low <= statistics.median(values) <= first.high
    assert bootstrap.median_interval([2.0] * 10) == bootstrap.Interval(2.0, 2.0)
    with pytest.raises(ValueError, match="at least 10 values, got 9"):
        bootstrap.median_interval([2.0] * 9)
    for bad in (0, 11):
        with pytest.raises(ValueError, match=f"a block of {bad} values for 10"):
            bootstrap.median_interval([2.0] * 10, block=bad)
    assert bootstrap.median_interval([2.0] * 10, block=10) == bootstrap.Interval(2.0, 2.0)


class _Starts:
    """A generator stand-in that hands out fixed block starts."""

    def __init__(self, starts: list[list[int]]) -> None:
        self.starts = np.asarray(starts)

    def integers(self, low: int, high: int, size: tuple[int, int, int]) -> np.ndarray:
        assert (low, high) == (0, 7) and size == (*self.starts.shape, 1)
        return self.starts.reshape(size)


def test_block_picks_wrap_past_the_end_and_are_cut_to_n() -> None:
    # 7 values in blocks of 3: three blocks, the last cut to one index; a start at 5
    # wraps to 0, a start at 6 to 0 and 1
    got = bootstrap.block_picks(_Starts([[5, 0, 2], [6, 6, 4]]), 7, 3, 2)  # type: ignore[arg-type]
    assert got.tolist() == [[5, 6, 0, 0, 1, 2, 2], [6, 0, 1, 6, 0, 1, 4]]
    real = bootstrap.block_picks(np.random.default_rng(0), 150, 12, 50)
    assert real.shape == (50, 150) and real.min() >= 0 and real.max() <= 149
    steps = np.diff(real[:, :12], axis=1) % 150  # inside a block, each index follows the last
    assert (steps == 1).all()


def test_block_length_is_the_square_root() -> None:
    assert [bootstrap.block_length(n) for n in (1, 10, 150, 600)] == [1, 3, 12, 24]


def test_a_seeded_interval_is_pinned() -> None:
    values = [1.0 + 0.01 * ((7 * i) % 11) for i in range(30)]
    got = bootstrap.median_interval(values)
    assert (got.low, got.high) == (pytest.approx(1.04), pytest.approx(1.06))
    assert bootstrap.median_interval(values, block=1) != got  # the block changes the draw


def _ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    """An AR(1) series of median 0 (Gaussian, started in its stationary law)."""
    out = np.empty(n)
    out[0] = rng.normal() / np.sqrt(1 - phi**2)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + rng.normal()
    return out


def test_blocks_keep_the_coverage_a_correlated_series_loses() -> None:
    """Rounds in a burst of load are correlated; resampling them one by one gives an
    interval that misses the true median far more often than its 95 % says."""
    rng = np.random.default_rng(1)
    series = [1 + 0.01 * _ar1(rng, 150, 0.8) for _ in range(200)]

    def coverage(block: int | None) -> float:
        found = [bootstrap.median_interval(s, block=block, seed=i) for i, s in enumerate(series)]
        return sum(i.low <= 1 <= i.high for i in found) / len(found)

    single, blocked = coverage(1), coverage(None)
    assert (single, blocked) == (0.51, 0.83)  # the figures bootstrap.py states


def test_paired_ratios_check_their_inputs() -> None:
    assert bootstrap.paired_ratios([2, 6], [1, 3]) == [2, 2]
    with pytest.raises(ValueError, match="2 numerators for 1"):
        bootstrap.paired_ratios([1, 2], [1])
    with pytest.raises(ValueError, match="not positive"):
        bootstrap.paired_ratios([1], [0])
