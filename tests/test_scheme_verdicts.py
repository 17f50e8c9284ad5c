"""The system-level claims (DTHQ against MQTT over TLS 1.3 through the same broker) and
the schemes section, judged and written from fixed SchemeRuns."""

from __future__ import annotations

import dataclasses

import pytest
from test_reports import _run, results

from dthq.harness.results import Distribution, Metric, Results, SchemeRun
from dthq.harness.results_json import from_dict, to_dict
from reports import schemes
from reports.verdicts.outcome import Outcome
from reports.verdicts.system_level import CLAIMS

LATENCY, THROUGHPUT = CLAIMS


def scheme(name: str, e2e_ms: float, held: float | None, storm: float = 0.4) -> SchemeRun:
    return SchemeRun(
        scheme=name, run=_run("immediate", 20, 5.0, e2e_ms=e2e_ms), wire_bytes_per_reading=1000.0,
        broker_cpu_s=0.25, storm_recovery_s=storm, cold_recovery_s=0.3, connections=22,
        held_per_s=held,
    )  # fmt: skip


def with_schemes(*runs: SchemeRun) -> Results:
    return dataclasses.replace(results(), schemes=runs)


@pytest.mark.parametrize(
    ("dthq_ms", "tls_ms", "outcome"),
    [
        (8.99, 10.0, Outcome.HOLDS),  # more than 10 % lower at p50 and p99
        (9.0, 10.0, Outcome.NOT_MEASURED),  # at the band's edge: not told apart
        (10.0, 10.0, Outcome.NOT_MEASURED),
        (11.0, 10.0, Outcome.NOT_MEASURED),
        (11.01, 10.0, Outcome.DOES_NOT_HOLD),  # more than 10 % higher
    ],
    ids=["lower", "edge-lower", "equal", "edge-higher", "higher"],
)
def test_latency_holds_only_when_dthq_is_lower_at_p50_and_p99(
    dthq_ms: float, tls_ms: float, outcome: Outcome
) -> None:
    claim = LATENCY.judged(with_schemes(scheme("dthq", dthq_ms, None), scheme("tls", tls_ms, None)))
    assert claim.outcome is outcome
    assert (claim.remark != "") is (outcome is Outcome.NOT_MEASURED)
    p99 = f"{dthq_ms * 2:.3g} vs {tls_ms * 2:.3g}"
    assert claim.ours == f"p50 {dthq_ms:.3g} vs {tls_ms:.3g} ms, p99 {p99} ms"


def test_latency_needs_p99_on_both_sides() -> None:
    tls = scheme("tls", 10.0, None)
    no_p99 = dataclasses.replace(tls.run, end_to_end=Distribution(10.0, 1.0, 10))
    tls = dataclasses.replace(tls, run=no_p99)
    claim = LATENCY.judged(with_schemes(scheme("dthq", 8.0, None), tls))
    assert claim.outcome is Outcome.NOT_MEASURED


@pytest.mark.parametrize(
    ("dthq_held", "tls_held", "outcome"),
    [(751.0, 600.0, Outcome.HOLDS), (750.0, 600.0, Outcome.NOT_MEASURED),
     (600.0, 600.0, Outcome.NOT_MEASURED), (450.0, 600.0, Outcome.NOT_MEASURED),
     (449.0, 600.0, Outcome.DOES_NOT_HOLD), (None, 600.0, Outcome.NOT_MEASURED)],
    ids=["higher", "edge-higher", "equal", "edge-lower", "lower", "unmeasured"],
)  # fmt: skip
def test_throughput_is_told_apart_only_beyond_the_searches_precision(
    dthq_held: float | None, tls_held: float, outcome: Outcome
) -> None:
    runs = (scheme("dthq", 8.0, dthq_held), scheme("tls", 10.0, tls_held))
    found = with_schemes(*(dataclasses.replace(r, held_precision=0.25) for r in runs))
    assert THROUGHPUT.judged(found).outcome is outcome


def test_no_scheme_runs_is_not_measured() -> None:
    assert LATENCY.judged(results()).outcome is Outcome.NOT_MEASURED
    assert THROUGHPUT.judged(results()).outcome is Outcome.NOT_MEASURED
    only = with_schemes(scheme("dthq", 8.0, 500.0))  # no TLS row to compare with
    assert LATENCY.judged(only).outcome is Outcome.NOT_MEASURED
    assert schemes.section(results()) is None


def test_the_section_labels_the_hybrid_adjustment_as_modelled() -> None:
    r = with_schemes(scheme("dthq", 8.0, None), scheme("tls", 10.0, None, storm=0.5))
    delta = schemes.hybrid_delta_ms(r)
    hybrid, classical = r.row(schemes.HYBRID), r.row(schemes.CLASSICAL)
    assert hybrid is not None and classical is not None
    assert delta == hybrid[Metric.HANDSHAKE].median - classical[Metric.HANDSHAKE].median
    tls = r.schemes[1]
    assert schemes.adjusted_storm_s(tls, 2.0) == pytest.approx(0.5 + 22 * 0.002)
    assert schemes.adjusted_storm_s(r.schemes[0], 2.0) is None  # DTHQ: no TLS handshake
    section = schemes.section(r)
    assert section is not None and section.file == "schemes.md"
    table = section.tables[0]
    assert "storm s, hybrid group adjusted (MODELLED)" in table.headers
    assert [row[0] for row in table.rows] == ["DTHQ over MQTT", "MQTT over TLS 1.3"]
    assert table.rows[0][2] == "-"  # held rate not measured
    text = " ".join(line for b in section.blocks if hasattr(b, "lines") for line in b.lines)
    assert "the broker sees every reading in clear" in text
    assert "MODELLED" in text and "Held rate: not measured" in text


def test_scheme_runs_round_trip_through_results_json() -> None:
    r = with_schemes(scheme("dthq", 8.0, 510.0), scheme("dthq+tls", 9.0, None))
    again = from_dict(to_dict(r))
    assert again.schemes == r.schemes
    cpu = again.schemes[0].cpu_ms_per_reading()
    assert cpu == {"cloud": pytest.approx(2.0), "broker": pytest.approx(0.25)}


def test_the_system_level_readings_are_counted_once() -> None:
    from reports.verdicts import claims as register
    from reports.verdicts.headline import independent, readings
    from reports.verdicts.system_level import CLAIMS

    ids = {spec.id for spec in register.CLAIMS}
    assert {spec.reading_of for spec in CLAIMS} == {"t3-order-latency", "t3-order-throughput"}
    assert {spec.reading_of for spec in CLAIMS} <= ids  # each re-reads a claim of the register
    found = register.claims(with_schemes(scheme("dthq", 8.0, 900.0), scheme("tls", 10.0, 800.0)))
    assert [c.id for c in readings(found)] == [s.id for s in CLAIMS]
    assert not {s.id for s in CLAIMS} & {c.id for c in independent(found)}
