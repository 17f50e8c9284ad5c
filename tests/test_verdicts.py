"""Verdicts as values: each claim and target is judged to one Outcome where its spec says,
and the words, the page's colours and the summary's counts all derive from it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from test_reports import results

from reports.build import write_report
from reports.summary import Summary
from reports.verdicts import claims, targets
from reports.verdicts.headline import independent
from reports.verdicts.judge import PHRASES, Measured, holds_when
from reports.verdicts.outcome import Outcome


def test_a_judge_decides_on_values_and_not_on_text() -> None:
    below = holds_when(lambda v: v[0] < v[1])
    assert below(Measured("1 vs 2", values=(1.0, 2.0))) == (Outcome.HOLDS, "")
    assert below(Measured("2 vs 1", values=(2.0, 1.0))) == (Outcome.DOES_NOT_HOLD, "")
    assert below(Measured("- vs 1", values=(None, 1.0))) == (Outcome.NOT_MEASURED, "")


@pytest.mark.parametrize(
    ("measured", "outcome", "words", "tone"),
    [
        (0.5, Outcome.HOLDS, "met", "ok"),
        (1.0, Outcome.HOLDS, "met", "ok"),  # the limit itself is within it
        (1.5, Outcome.DOES_NOT_HOLD, "MISSED", "bad"),
        (None, Outcome.NOT_MEASURED, "not measured", "grey"),
    ],
)
def test_a_target_holds_within_its_limit(
    measured: float | None, outcome: Outcome, words: str, tone: str
) -> None:
    spec = targets.TargetSpec("t", 1.0, "x", lambda _: measured, lambda _: "how")
    t = spec.judged(results())
    assert (t.outcome, t.verdict, t.outcome.tone) == (outcome, words, tone)


def test_words_and_counts_derive_from_the_outcomes(tmp_path: Path) -> None:
    r = results()
    found = claims.claims(r)
    assert len(found) == len(claims.CLAIMS)
    for c in found:
        assert c.verdict.startswith(PHRASES[c.outcome])
    summary = Summary.of(r)
    assert summary.outcomes == Counter(c.outcome for c in independent(found))
    tiles = {label: count for count, label, _ in summary.tiles()}
    assert tiles["claims hold"] == sum(c.outcome is Outcome.HOLDS for c in found)
    met = sum(t.outcome is Outcome.HOLDS for t in summary.targets)
    assert tiles["targets met"] == met
    # The page colours each verdict row from its outcome: green rows are the claims that
    # hold, our own comparisons that hold and the targets met.
    write_report(r, tmp_path)
    page = (tmp_path / "report.html").read_text()
    own = Counter(c.outcome for c in claims.own(r))
    assert page.count('<tr class="ok">') == tiles["claims hold"] + own[Outcome.HOLDS] + met
    assert page.count('<tr class="bad">') == (
        tiles["claims do not hold"] + own[Outcome.DOES_NOT_HOLD] + tiles["targets missed"]
    )
