"""The register counted in one sentence a reader can repeat: the paper's independent
claims by outcome, its contradictions, and our own comparisons apart."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from reports.verdicts.judge import Claim, Kind
from reports.verdicts.outcome import Outcome


def independent(claims: Sequence[Claim]) -> list[Claim]:
    """The paper's claims, its contradictions left out (they are counted apart) and so
    are the second readings of a claim counted already (``reading_of``)."""
    return [c for c in claims if c.kind is not Kind.INCONSISTENT and not c.reading_of]


def readings(claims: Sequence[Claim]) -> list[Claim]:
    """Claims counted once already, judged again where the paper also makes them."""
    return [c for c in claims if c.reading_of]


def _parts(n: Counter[Outcome], settings: int) -> list[str]:
    parts = [f"{n[Outcome.HOLDS]} hold here", f"{n[Outcome.DOES_NOT_HOLD]} do not"]
    if n[Outcome.DEPENDS_ON_DEFINITION]:
        parts.append(f"{n[Outcome.DEPENDS_ON_DEFINITION]} depend on the definition")
    untestable = n[Outcome.NOT_TESTABLE_HERE]
    parts.append(f"{untestable} cannot be tested here ({settings} of them Table 2's settings)")
    if n[Outcome.NOT_MEASURED]:
        parts.append(f"{n[Outcome.NOT_MEASURED]} were not measured in this run")
    parts.append(
        f"{n[Outcome.NOT_COMPARABLE_ACROSS_MACHINES]} are absolute figures of other machines, "
        "not comparable across machines"
    )
    return parts


def headline(claims: Sequence[Claim], own: Sequence[Claim]) -> str:
    found = independent(claims)
    n = Counter(c.outcome for c in found)
    settings = sum(c.id.startswith("t2-") and c.outcome is Outcome.NOT_TESTABLE_HERE
                   for c in found)  # fmt: skip
    parts = _parts(n, settings)
    mine = Counter(c.outcome for c in own)
    again = readings(claims)
    contradictions = len(claims) - len(found) - len(again)
    twice = Counter(c.outcome for c in again)
    second = (
        f" {len(again)} of these claims are judged again at system level (counted once, above): "
        f"{twice[Outcome.HOLDS]} hold there, {twice[Outcome.DOES_NOT_HOLD]} do not"
        + (f", {twice[Outcome.NOT_MEASURED]} not measured" if twice[Outcome.NOT_MEASURED] else "")
        + "."
        if again
        else ""
    )
    return (
        f"Of the paper's {len(found)} independent claims, {', '.join(parts[:-1])} and "
        f"{parts[-1]}; the paper contradicts itself in {contradictions} places.{second} Our own "
        f"comparisons, never counted as the paper's: {mine[Outcome.HOLDS]} hold, "
        f"{mine[Outcome.DOES_NOT_HOLD]} do not"
        + (f", {mine[Outcome.NOT_MEASURED]} not measured" if mine[Outcome.NOT_MEASURED] else "")
        + f" (of {len(own)})."
    )
