"""The dashboard: who may read it (its own Host names; a token beyond loopback), what it
shows (SIMULATED, reading ages, silent devices, patients by score, alert times, the p99
budget), that the first Ctrl-C stops it with a browser tab open, and the page end to end
in Debian's headless Chromium driven by Playwright (its own browser download is never
used) at desktop and phone width, with a real pipeline behind it."""

from __future__ import annotations

import http.client
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from helpers import twin_serve

from dthq.pipeline.clock import SYSTEM_CLOCK
from dthq.pipeline.dashboard_access import Access, access_for
from dthq.pipeline.run import SimConfig
from dthq.transport.brokers import free_port

uvicorn = pytest.importorskip("uvicorn", reason="the dashboard extra (uvicorn) is not installed")

CONFIG = SimConfig(
    patients=3,
    rate_hz=5,
    duration_s=120,
    policy="adaptive",
    deteriorating=0.34,  # P00001
    onset_s=0.0,
    deterioration_speed=40.0,
)


@contextmanager
def served(access: Access | None = None) -> Iterator[tuple[int, Any]]:
    """The dashboard's app on a loopback port with a live pipeline: (port, LivePipeline)."""
    from dthq.pipeline.dashboard import LivePipeline, app, server

    live = LivePipeline(CONFIG, SYSTEM_CLOCK)
    live.start()
    stopping = threading.Event()
    port = free_port()
    srv = server(app(live, access, stopping), stopping, host="127.0.0.1", port=port,
                 log_level="warning")  # fmt: skip
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield port, live
    finally:
        stopping.set()
        srv.should_exit = True
        thread.join(10)
        live.close()


@pytest.fixture
def dashboard() -> Iterator[tuple[int, Any]]:
    with served() as both:
        yield both


def get(port: int, path: str, host: str | None = None, **headers: str) -> tuple[int, dict, bytes]:
    """One GET with the Host header given (default: 127.0.0.1:port); (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest("GET", path, skip_host=True)
        conn.putheader("Host", host or f"127.0.0.1:{port}")
        for name, value in headers.items():
            conn.putheader(name.replace("_", "-"), value)
        conn.endheaders()
        response = conn.getresponse()
        # The event stream never ends: its status and headers are enough.
        body = b"" if path.startswith("/events") and response.status == 200 else response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def wait_view(port: int, ok: Callable[[dict], bool], timeout: float = 45, **headers: str) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, _, body = get(port, "/api/twins", **headers)
        assert status == 200, body
        view = json.loads(body)
        if ok(view) or time.monotonic() > deadline:
            return view
        time.sleep(0.2)


# What the view says.


def test_silent_after_three_missed_intervals_plus_the_batching_wait() -> None:
    from dthq.pipeline.dashboard import silent_after_ms

    assert silent_after_ms(5, 400) == 1000.0  # 3 x 200 ms + the adaptive window
    assert silent_after_ms(1, 0) == 3000.0


def test_p99_over_the_500_ms_budget_is_flagged_past_it_not_at_it() -> None:
    from dthq.pipeline.dashboard import over_budget

    assert [over_budget(v) for v in (None, 499.9, 500.0, 500.001)] == [False, False, False, True]


def _twin(pid: str, total: int, ts: int) -> dict:
    return {"pid": pid, "ts": ts, "news2": {"total": total}}


def test_the_view_sorts_by_score_and_flags_silence_at_its_boundary() -> None:
    from dthq.pipeline.dashboard import patients_view

    snapshot = [_twin("P1", 0, 9_000), _twin("P2", 5, 8_000), _twin("P3", 2, 9_000),
                _twin("P4", 2, 8_999)]  # fmt: skip
    view = patients_view(snapshot, ["P1", "P2", "P3", "P4", "P5"], 10_000, 9_500, 1000)
    assert [p["pid"] for p in view] == ["P2", "P3", "P4", "P1", "P5"]  # highest first
    by = {p["pid"]: p for p in view}
    assert by["P3"]["age_ms"] == 1000 and by["P3"]["silent"] is False  # at the boundary
    assert by["P4"]["age_ms"] == 1001 and by["P4"]["silent"] is True  # one past it
    assert by["P2"]["silent"] is True
    assert by["P5"] == {"pid": "P5", "ts": None, "age_ms": None, "silent": False}  # 500 ms in
    later = patients_view([], ["P5"], 10_501, 9_500, 1000)
    assert later[0]["silent"] is True  # a device that never sent is silent too


def test_the_api_serves_the_twins_view(dashboard: tuple[int, Any]) -> None:
    port, _ = dashboard
    view = wait_view(port, lambda v: all(p["ts"] is not None for p in v["patients"]))
    assert view["label"] == "partial NEWS2 (3 of 7 parameters)"
    assert view["simulated"] is True and view["budget_ms"] == 500.0
    assert view["spark_hr"] == [30, 180] and view["silent_after_ms"] == 1000.0
    assert {p["pid"] for p in view["patients"]} == {"P00001", "P00002", "P00003"}
    totals = [p["news2"]["total"] for p in view["patients"]]
    assert totals == sorted(totals, reverse=True)
    assert all(p["age_ms"] >= 0 for p in view["patients"])
    assert "transmit" in view["stages"] and view["error"] is None
    assert view["over_budget"] == (view["stages"]["e2e_p99"] > 500.0)


def test_a_device_that_stops_sending_is_flagged_silent(dashboard: tuple[int, Any]) -> None:
    port, live = dashboard
    wait_view(port, lambda v: all(p["ts"] is not None for p in v["patients"]))
    device = next(d for d in live.pipeline.devices if d.patient == "P00002")
    device.tick = lambda: False  # the device goes quiet; the others go on
    view = wait_view(port, lambda v: _by(v)["P00002"]["silent"])
    assert _by(view)["P00002"]["silent"] is True
    assert _by(view)["P00002"]["age_ms"] > view["silent_after_ms"]


def _by(view: dict) -> dict[str, dict]:
    return {p["pid"]: p for p in view["patients"]}


# Who may read it.


def test_a_foreign_host_is_refused(dashboard: tuple[int, Any]) -> None:
    port, _ = dashboard
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example", "[::2]"):
        status, _, body = get(port, "/api/twins", host=host)
        assert status == 400 and b"Invalid host header" in body, host
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "LOCALHOST"):
        assert get(port, "/api/twins", host=host)[0] == 200, host
    assert get(port, "/events", host="evil.example")[0] == 400


def test_loopback_needs_no_token_and_anything_else_does() -> None:
    local = access_for("127.0.0.1", "127.0.0.1")
    assert local.token is None and local.hosts == ("127.0.0.1", "localhost", "[::1]")
    assert access_for("localhost", "127.0.0.1").token is None
    assert access_for("::1", "::1").hosts == ("[::1]", "localhost", "127.0.0.1")
    lan = access_for("192.0.2.7", "192.0.2.7")
    assert lan.hosts == ("192.0.2.7",) and lan.token is not None and len(lan.token) == 43
    assert lan.url(8765) == f"http://192.0.2.7:8765/?token={lan.token}"
    assert access_for("192.0.2.7", "192.0.2.7").token != lan.token  # random per start
    named = access_for("ward.example", "192.0.2.7", ["proxy.example"])
    assert named.hosts == ("ward.example", "proxy.example", "192.0.2.7")
    every = access_for("0.0.0.0", "0.0.0.0", ["ward.example"])
    assert every.url(1) == f"http://ward.example:1/?token={every.token}"
    assert "localhost" in every.hosts  # loopback is one of every interface


def test_beyond_loopback_every_path_needs_the_token() -> None:
    # What `serve` builds for a LAN address, with 127.0.0.1 allowed so the test reaches it.
    access = access_for("192.0.2.7", "192.0.2.7", ["127.0.0.1"])
    token = access.token
    assert token is not None
    with served(access) as (port, _):
        for path in ("/", "/api/twins", "/events"):
            status, headers, _ = get(port, path)
            assert status == 401 and headers["www-authenticate"] == "Bearer", path
            assert get(port, path, Authorization=f"Bearer {token[:-1]}x")[0] == 401, path
            assert get(port, f"{path}?token={token}x")[0] == 401, path
            assert get(port, path, Authorization=f"Bearer {token}")[0] == 200, path
            assert get(port, path, Cookie=f"dthq_token={token}")[0] == 200, path
        status, headers, _ = get(port, f"/?token={token}")
        assert status == 200
        assert headers["set-cookie"] == f"dthq_token={token}; HttpOnly; SameSite=Strict; Path=/"
        assert get(port, "/api/twins", Cookie="dthq_token=nope; x=1")[0] == 401


# Stopping.


def test_the_first_sigint_stops_twin_serve_with_a_live_event_stream() -> None:
    server = twin_serve()
    try:
        line = server.stderr.readline() if server.stderr else ""
        assert "dashboard on http://127.0.0.1:" in line and "SIMULATED" in line, line
        port = int(line.split("127.0.0.1:")[1].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/events")
        stream = conn.getresponse()
        assert stream.status == 200 and stream.readline().startswith(b"data: ")  # live
        server.send_signal(signal.SIGINT)  # once
        server.wait(timeout=60)  # generous; without the fix it never returns
        conn.close()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 0


# The page in a real browser.


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    inner = page.evaluate("window.innerWidth")
    assert width <= inner, (width, inner)


@pytest.mark.slow  # a browser
@pytest.mark.requires("chromium", "playwright")
def test_the_page_in_chromium_at_desktop_and_phone_width(dashboard: tuple[int, Any]) -> None:
    from browser import browser_page, watch

    port, live = dashboard
    with browser_page() as page:
        problems = watch(page)
        page.set_viewport_size({"width": 1400, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/")
        assert page.locator("#simulated").is_visible()
        assert "SIMULATED" in page.locator("#simulated").inner_text()
        assert "30\u2013180 /min" in page.locator("#legend").inner_text()
        # P00001 is the scripted deteriorating patient (a third of three, onset at once).
        alert = page.locator('.alert[data-pid="P00001"]').first
        alert.wait_for(timeout=45_000)
        assert "scores 3" in alert.inner_text() or "rose" in alert.inner_text()
        stamp = alert.locator("time")
        assert len(stamp.get_attribute("datetime") or "") == 24  # ISO, to the millisecond
        assert len(stamp.inner_text().split(":")) == 3  # hh:mm:ss
        page.wait_for_function(
            "document.querySelector('#patients tr').dataset.pid === 'P00001'", timeout=45_000
        )
        scores = [int(s) for s in page.locator("#patients tr").evaluate_all(
            "rows => rows.map(r => r.dataset.score)")]  # fmt: skip
        assert scores == sorted(scores, reverse=True) and len(scores) == 3
        assert page.locator("#stages tr").count() >= 5  # the stage latencies are shown
        assert "budget" in page.locator("#budget").inner_text()
        _no_sideways_scroll(page)
        # A device that stops sending: flagged on the page.
        device = next(d for d in live.pipeline.devices if d.patient == "P00002")
        device.tick = lambda: False
        silent = page.locator('tr[data-pid="P00002"][data-silent="true"] .silent')
        silent.wait_for(timeout=45_000)
        assert silent.inner_text() == "SILENT"
        _no_sideways_scroll(page)
        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        assert page.locator("#patients-table thead").is_hidden()  # cards, not columns
        _no_sideways_scroll(page)
        assert page.locator("#simulated").is_visible()
        assert problems == []
