"""The target "metrics cost per reading": the two pipeline figures' ratio, judged at and
just past its 2 % limit, and the round the figures count (bench/metrics_cost.py): every
reading delivered and settled, with the real collector and with the one that does nothing."""

from __future__ import annotations

import pytest

from bench.icount_driver import METRICS_WITH, METRICS_WITHOUT, calls
from bench.metrics_cost import ROUND, NullMetrics, Round
from dthq.harness.results import InstructionCount, Metadata, Results
from dthq.pipeline.metrics import Metrics
from reports.verdicts.outcome import Outcome
from reports.verdicts.targets import evaluate

NAME = "metrics cost per reading"


def _judged(with_: float | None, without: float | None) -> tuple[float | None, Outcome]:
    counts = [InstructionCount(k, v, 1) for k, v in ((METRICS_WITH, with_),
              (METRICS_WITHOUT, without)) if v is not None]  # fmt: skip
    results = Results(Metadata("full", 1, {}), instructions=tuple(counts))
    target = next(t for t in evaluate(results) if t.name == NAME)
    return target.measured, target.outcome


@pytest.mark.parametrize(
    ("with_", "measured", "outcome"),
    [(1_000_000.0, 0.0, Outcome.HOLDS), (1_020_000.0, 2.0, Outcome.HOLDS),
     (1_020_001.0, 2.0001, Outcome.DOES_NOT_HOLD)],
)  # fmt: skip
def test_the_target_is_the_ratio_less_one_in_per_cent(
    with_: float, measured: float, outcome: Outcome
) -> None:
    got, judged = _judged(with_, 1_000_000.0)
    assert got == pytest.approx(measured) and judged is outcome


def test_without_either_figure_it_is_not_measured() -> None:
    assert _judged(1e6, None) == (None, Outcome.NOT_MEASURED)
    assert _judged(None, 1e6) == (None, Outcome.NOT_MEASURED)


def test_a_pipeline_figure_takes_a_third_of_n_calls_and_others_all() -> None:
    assert [calls(METRICS_WITH, n) for n in (1, 3, 5, 10)] == [1, 1, 1, 3]
    assert calls("record/256-far-small", 3) == 3


@pytest.mark.parametrize("null", [False, True])
def test_a_round_delivers_and_settles_every_reading(null: bool) -> None:
    metrics = NullMetrics() if null else Metrics()
    round_ = Round(metrics)
    try:
        for _ in range(2):
            round_()
        devices = round_.pipeline.devices
        assert len(devices) == ROUND and all(not d.unsettled.due(0, all_now=True) for d in devices)
        stored = sum(len(list(round_.pipeline.store.readings(d.patient))) for d in devices)
        assert stored == 2 * ROUND
        if null:
            assert metrics.delivered == 0 and not metrics.histograms  # it collected nothing
        else:
            assert metrics.delivered == 2 * ROUND and metrics.traces == {}
    finally:
        round_.close()
