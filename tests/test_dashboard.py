"""The dashboard end to end in a real browser: Debian's headless Chromium driven by
Playwright (its own browser download is never used) against ``dthq twin serve``'s app
on loopback, with a real pipeline behind it. An alert raised by a deteriorating
simulated patient must appear on the page, pushed by server-sent events."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest
from browser import browser_page

from dthq.pipeline.clock import SYSTEM_CLOCK
from dthq.pipeline.run import SimConfig
from dthq.transport.brokers import free_port

uvicorn = pytest.importorskip("uvicorn", reason="the dashboard extra (uvicorn) is not installed")


@pytest.fixture
def dashboard() -> Iterator[str]:
    from dthq.pipeline.dashboard import LivePipeline, app

    live = LivePipeline(
        SimConfig(
            patients=3,
            rate_hz=5,
            duration_s=120,
            policy="adaptive",
            deteriorating=0.34,
            onset_s=0.0,
            deterioration_speed=40.0,
        ),
        SYSTEM_CLOCK,
    )
    live.start()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app(live), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        live.close()


def test_the_api_serves_the_twins_view(dashboard: str) -> None:
    import json

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{dashboard}/api/twins", timeout=5) as r:
            view = json.loads(r.read())
        if len(view["patients"]) == 3:
            break
        time.sleep(0.2)
    assert view["label"] == "partial NEWS2 (3 of 7 parameters)"
    assert {p["pid"] for p in view["patients"]} == {"P00001", "P00002", "P00003"}
    assert "transmit" in view["stages"] and view["error"] is None


@pytest.mark.slow  # a browser
@pytest.mark.requires("chromium", "playwright")
def test_an_alert_from_a_deteriorating_patient_appears_in_the_browser(dashboard: str) -> None:
    with browser_page() as page:
        page.goto(dashboard)
        # P00001 is the scripted deteriorating patient (a third of three, onset at once).
        alert = page.locator('.alert[data-pid="P00001"]').first
        alert.wait_for(timeout=45_000)
        assert "scores 3" in alert.inner_text() or "rose" in alert.inner_text()
        rows = page.locator("#patients tr")
        assert rows.count() == 3
        assert page.locator("#stages tr").count() >= 5  # the stage latencies are shown
