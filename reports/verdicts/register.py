"""The register as the report shows it (paper-comparison.md): the headline, every claim
with its words, kind, definition and verdict, the rows merged and why, and our own
comparisons apart."""

from __future__ import annotations

from dthq.harness.results import Results
from reports.section import Heading, Section, Table, Text
from reports.verdicts.claims import claims, own
from reports.verdicts.definitions import DEFINITIONS
from reports.verdicts.headline import headline
from reports.verdicts.judge import Claim

HEADERS = ["Id", "Location", "Kind", "Claim (the paper's words)", "Paper", "Definition",
           "Ours", "Ratio ours/paper", "Verdict"]  # fmt: skip
FIELDS = ("id", "location", "kind_name", "wording", "paper", "definition", "ours", "ratio",
          "verdict")  # fmt: skip


OWN_HEADERS = [h.replace("Claim (the paper's words)", "Our comparison") for h in HEADERS]


def _table(found: list[Claim], headers: list[str] = HEADERS) -> Table:
    return Table(
        headers,
        [[getattr(c, field) for field in FIELDS] for c in found],
        [c.outcome.tone for c in found],
    )


def section(results: Results) -> Section:
    found, mine = claims(results), own(results)
    merged = [[c.id, c.merged] for c in found if c.merged]
    merged += [
        [c.id, f"the words of {c.reading_of}, judged again at system level: counted once, there"]
        for c in found
        if c.reading_of
    ]
    return Section(
        "The paper's claims on this machine",
        [
            Text([headline(found, mine)]),
            _table(found),
            Heading("Rows merged into one claim, and why"),
            Table(["Claim", "What was merged into it"], merged),
            Heading("Our own comparisons (not the paper's claims, never in its counts)"),
            _table(mine, OWN_HEADERS),
            Text([DEFINITIONS], in_html=False),
        ],
        file="paper-comparison.md",
    )
