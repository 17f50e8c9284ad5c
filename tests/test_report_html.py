"""report.html in a real browser (Debian's headless Chromium): it loads with no console
error, every figure decodes and has a size, and the page opens with its verdicts."""

from __future__ import annotations

import html
import re

import pytest
from browser import browser_page, watch
from helpers import SHARED_REPORT, WrittenReport

from reports.pipeline import LOAD_HEADERS, STAGE_HEADERS
from reports.policy import POLICY_HEADERS


@SHARED_REPORT
@pytest.mark.slow  # a browser
@pytest.mark.requires("chromium", "playwright")
def test_the_report_renders_in_chromium(results_report: WrittenReport) -> None:
    with browser_page() as page:
        problems = watch(page)
        page.goto((results_report.out / "report.html").as_uri(), wait_until="load")
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.alt, e.complete, e.naturalWidth, e.naturalHeight])"
        )
        first = page.locator("h2").first.inner_text()
        tiles = page.locator("#summary .tile").all_inner_texts()
        verdict_rows = page.locator("#summary tbody tr").count()
    assert problems == []
    names = {alt for alt, *_ in images}
    assert {"figure-paper-table3", "figure-paper-table4", "figure-latency-box"} <= names
    assert len(images) == 10
    for alt, complete, width, height in images:
        assert complete and width > 300 and height > 200, alt
    assert first == "Summary"
    assert any("claims hold" in t for t in tiles) and any("targets missed" in t for t in tiles)
    assert verdict_rows > 10


@SHARED_REPORT
def test_the_summary_counts_each_verdict(results_report: WrittenReport) -> None:
    summary = (results_report.out / "summary.md").read_text()
    # The fake run's claims (see test_register), the formal model's constructed.
    assert "94 independent claims, 6 hold here, 7 do not, 39 cannot be tested here" in summary
    assert "the paper contradicts itself in 7 places" in summary
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in summary.splitlines()]
    assert ["does not hold", "t3-order-latency", "Table 3, latency column"] in [r[:3] for r in rows]
    html = (results_report.out / "report.html").read_text()
    assert html.index('id="summary"') < html.index("Table 3: DTHQ beside the baselines")


@SHARED_REPORT
def test_the_page_shows_each_table_once_and_the_pipeline_tables(
    results_report: WrittenReport,
) -> None:
    page = (results_report.out / "report.html").read_text()
    heads = re.findall(r"<thead>(.*?)</thead>", page, re.S)
    assert page.count("<table>") == len(heads) and len(heads) == len(set(heads))
    # Every table of the Markdown files is on the page once (summary.md repeats the
    # verdicts for its own readers; on the page the summary holds them).
    in_files = sum(
        line.startswith("|-")
        for md in results_report.out.glob("*.md")
        if md.name != "summary.md"
        for line in md.read_text().splitlines()
    )
    # the register's three, contradictions.md's two, the primitives', the unstable figures'
    # (the fake run's paired TLS handshake ratio), the gate's error rates' two
    assert len(heads) == in_files == 25
    for header in (*LOAD_HEADERS, *STAGE_HEADERS, *POLICY_HEADERS):
        assert f"<th>{html.escape(header)}</th>" in page, header
    assert page.count("The paper&#x27;s claims on this machine") == 1
    assert page.count(">Performance targets<") == 1
