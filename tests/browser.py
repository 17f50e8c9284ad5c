"""Debian's headless Chromium driven by Playwright, for the tests that need a real
browser (Playwright's own browser download is never used). A test that uses it is marked
``@pytest.mark.requires("chromium", "playwright")``, so it is skipped where either is absent."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dthq.harness.requirements import CHROMIUM

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def browser_page() -> Iterator[Any]:
    """A fresh page in headless Chromium, closed afterwards."""
    from playwright import sync_api

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def watch(page: Any) -> list[str]:
    """Collect what would make a page broken: console errors, uncaught exceptions and
    failed requests (a self-contained page makes none)."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url[:80]}"))
    return problems
