"""Every quantitative claim of the paper as a spec (where it is, what it says, the paper's
figure, what we measure, how that is judged), and the claims judged on one run."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from dthq.harness.results import Metric, Results, Table3Row, Table4Cell
from dthq.harness.scenarios import PAPER_KEM
from reports.paper import (
    ORDER,
    PAPER_ORDER,
    PAPER_TABLE3,
    PAPER_TABLE4,
    TABLE3_CLAIMED,
    TABLE4_CLAIMED,
)
from reports.policy import SECTION71, section71
from reports.section import Section, Table, Text
from reports.verdicts.definitions import DEFINITIONS
from reports.verdicts.judge import (
    Claim,
    ClaimSpec,
    Judge,
    Measure,
    Measured,
    by_value,
    fixed,
    holds_when,
)
from reports.verdicts.outcome import Outcome, judged

Row = Table3Row | Table4Cell | None


def _m(row: Row, metric: Metric) -> float | None:
    timing = row.get(metric) if row else None
    return timing.median if timing else None


def _num(x: float | None) -> str:
    return "-" if x is None else (f"{x:,.0f}" if x >= 100 else f"{x:.3g}")


def _ratio(ours: float | None, paper: float | None) -> str:
    return "-" if ours is None or not paper else f"{ours / paper:.3g}"


def _vs(a: float | None, b: float | None) -> str:
    return f"{_num(a)} vs {_num(b)}"


def _beside(figure: Metric, paper: float, get: Callable[[Results], Row]) -> Measure:
    """Our median of ``figure`` in the row ``get`` finds, beside the paper's value."""

    def measure(r: Results) -> Measured:
        ours = _m(get(r), figure)
        return Measured(_num(ours), _ratio(ours, paper))

    return measure


def _table3_values() -> list[ClaimSpec]:
    return [
        ClaimSpec(
            "Table 3",
            f"{name}: {figure}",
            _num(PAPER_TABLE3[name][figure]),
            _beside(figure, PAPER_TABLE3[name][figure], lambda r, k=key: r.row(k)),
            by_value,
        )
        for key, name in zip(ORDER, PAPER_ORDER, strict=True)
        for figure in TABLE3_CLAIMED
    ]


def _ordering(figure: Metric) -> ClaimSpec:
    better = "higher" if figure.is_rate else "lower"

    def measure(r: Results) -> Measured:
        values = tuple(_m(r.row(k), figure) for k in ORDER)
        return Measured(" / ".join(_num(v) for v in values), "-", values)

    def ordered(values: Sequence[float]) -> bool:
        pairs = itertools.pairwise(values)
        return all(a > b for a, b in pairs) if figure.is_rate else all(a < b for a, b in pairs)

    return ClaimSpec(
        "Table 3",
        f"{figure}: DTHQ {better} than TLS, TLS than ECC-256, ECC-256 than RSA-2048",
        " / ".join(_num(PAPER_TABLE3[p][figure]) for p in PAPER_ORDER),
        measure,
        holds_when(ordered),
    )


def _latency(r: Results, key: str) -> float | None:
    return _m(r.row(key), Metric.LATENCY)


def _below(key: str, note: str = "") -> Measure:
    """DTHQ's latency beside another row's."""

    def measure(r: Results) -> Measured:
        ours, theirs = _latency(r, "dthq-mlkem768-psk"), _latency(r, key)
        return Measured(_vs(ours, theirs), _ratio(ours, theirs) + note, (ours, theirs))

    return measure


def _table4_values() -> list[ClaimSpec]:
    return [
        ClaimSpec(
            "Table 4",
            f"KL {kl}, {edge} edge, {size}: {figure}",
            _num(paper[figure]),
            _beside(figure, paper[figure], lambda r, k=f"{kl}-{edge}-{size}": r.cell(k)),
            by_value,
        )
        for (kl, edge, size), paper in PAPER_TABLE4.items()
        for figure in TABLE4_CLAIMED
    ]


def _edges() -> list[ClaimSpec]:
    """The paper pairs one size with each key length; its edges are compared there.
    "Wins" means lower latency or higher throughput, as the paper's ordering says."""
    specs = []
    for kl, size in ((128, "small"), (256, "medium"), (512, "large")):
        for source, figure, text, winner in (
            ("Table 4", Metric.AL, "far-edge (LZ4) AL below near-edge (Brotli)", "far"),
            ("§6.4 text", Metric.THROUGHPUT, "near-edge throughput above far-edge", "near"),
        ):
            loser = "near" if winner == "far" else "far"
            w, lo = f"{kl}-{winner}-{size}", f"{kl}-{loser}-{size}"

            def measure(r: Results, w: str = w, lo: str = lo, f: Metric = figure) -> Measured:
                ours = (_m(r.cell(w), f), _m(r.cell(lo), f))
                return Measured(_vs(*ours), "-", ours)

            paper = (
                PAPER_TABLE4[(kl, winner, size)][figure],
                PAPER_TABLE4[(kl, loser, size)][figure],
            )
            wins = (lambda v: v[0] > v[1]) if figure.is_rate else (lambda v: v[0] < v[1])
            specs.append(
                ClaimSpec(
                    source, f"KL {kl}, {size}: {text}", _vs(*paper), measure, holds_when(wins)
                )
            )
    return specs


def _cc_all(r: Results) -> list[float]:
    return [c[Metric.CC].median for c in r.cells(PAPER_KEM.label)]


def _al_cc(r: Results) -> Measured:
    cc, al = _cc_all(r), [c[Metric.AL].median for c in r.cells(PAPER_KEM.label)]
    return Measured(
        f"CC {_num(min(cc, default=None))}-{_num(max(cc, default=None))}, "
        f"AL {_num(min(al, default=None))}-{_num(max(al, default=None))}"
    )


def _cc_range(r: Results) -> Measured:
    cc = _cc_all(r)
    worst = max(cc, default=None)
    return Measured(f"{_num(min(cc, default=None))}-{_num(worst)}", "-", (worst,))


def _dthq_latency(r: Results) -> Measured:
    lat = _latency(r, "dthq-mlkem768-psk")
    return Measured(_num(lat), "-", (lat,))


def _crypto_in_latency(r: Results) -> Measured:
    dthq = r.row("dthq-mlkem768-psk")
    return Measured(_vs(_m(dthq, Metric.COMP_OVERHEAD), _m(dthq, Metric.LATENCY)))


def _section71(i: int, claimed: float, definition: str) -> tuple[Measure, Judge]:
    def measure(r: Results) -> Measured:
        got = section71(r.pipeline)[i][2]
        if got is None:
            return Measured("-", "-", (None,))
        return Measured(f"{got:+.1%}", f"{got / claimed:.3g}", (got,))

    def judge(m: Measured) -> tuple[Outcome, str]:
        (got,) = m.values
        if got is None:
            return Outcome.NOT_MEASURED, " (run the pipeline suite: its policy comparison)"
        return judged(got >= claimed), f" under our definition: {definition}"

    return measure, judge


CLAIMS: tuple[ClaimSpec, ...] = (
    *_table3_values(),
    *(_ordering(figure) for figure in TABLE3_CLAIMED),
    ClaimSpec("Abstract / Table 3", "DTHQ latency below TLS latency", "1.2 < 4.8",
              _below("tls13-x25519", " (ours DTHQ/TLS; paper 0.25)"),
              holds_when(lambda v: v[0] < v[1])),
    ClaimSpec("(not in paper) deployable alternative",
              "DTHQ latency below TLS 1.3 hybrid (X25519MLKEM768) latency", "-",
              _below("tls13-x25519mlkem768"), holds_when(lambda v: v[0] < v[1])),
    ClaimSpec("Table 3 (consistency)",
              "DTHQ comp. overhead <= latency (latency includes the crypto)",
              "4.1 > 1.2: inconsistent in the paper", _crypto_in_latency,
              fixed(Outcome.INCONSISTENT_IN_PAPER,
                    "see note: our latency adds compression to the same crypto")),
    *_table4_values(),
    *_edges(),
    ClaimSpec("Table 4 (consistency)", "CC (crypto only) below AL (which includes it)",
              "CC 12-52 > AL 1.2-8.4: inconsistent in the paper", _al_cc,
              fixed(Outcome.INCONSISTENT_IN_PAPER,
                    "our CC includes a handshake, our AL does not: see definitions")),
    ClaimSpec("Table 6 / Conclusion", 'DTHQ latency of 1-10 ms ("a few milliseconds")', "1-10",
              _dthq_latency, holds_when(lambda v: v[0] <= 10)),
    ClaimSpec("Table 5", "DTHQ computational cost 7-10 ms", "7-10", _cc_range,
              holds_when(lambda v: v[0] <= 10)),
    ClaimSpec("Conclusion", "25.77 % computational improvement over prior work", "25.77 %",
              lambda _: Measured("-"),
              fixed(Outcome.NOT_TESTABLE_HERE, ": needs the prior-work protocols")),
    *(ClaimSpec("Conclusion / §7.1", text, f"{claimed:.0%}", *_section71(i, claimed, definition))
      for i, (text, claimed, definition) in enumerate(SECTION71)),
)  # fmt: skip


def claims(results: Results) -> list[Claim]:
    return [spec.judged(results) for spec in CLAIMS]


def section(results: Results) -> Section:
    found = claims(results)
    return Section(
        "The paper's claims on this machine",
        [
            Table(
                ["Source", "Claim", "Paper", "Ours (median)", "Ratio ours/paper", "Verdict"],
                [[c.source, c.claim, c.paper, c.ours, c.ratio, c.verdict] for c in found],
                [c.outcome.tone for c in found],
            ),
            Text([DEFINITIONS], in_html=False),
        ],
        file="paper-comparison.md",
    )
