"""The external programs and services a test or a benchmark may require, and why each
is missing here. ``@pytest.mark.requires(NAME, ...)`` names them; the conftest hooks of
tests/ and bench/ are its readers, so one table decides both."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable
from functools import cache

from dthq.transport.brokers import find_mosquitto
from dthq.transport.cluster import RABBITMQ_MISSING, find_rabbitmq

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _found(what: object, reason: str) -> str | None:
    return None if what else reason


REQUIREMENTS: dict[str, Callable[[], str | None]] = {
    "mosquitto": lambda: _found(
        find_mosquitto(),
        "mosquitto is not installed (Debian package mosquitto; .ci/run installs it)",
    ),
    "rabbitmq": lambda: _found(
        find_rabbitmq(),
        RABBITMQ_MISSING,
    ),
    "chromium": lambda: _found(
        CHROMIUM, "chromium is not installed (Debian package chromium; .ci/run installs it)"
    ),
    "playwright": lambda: _found(
        importlib.util.find_spec("playwright"), "playwright is not installed"
    ),
    "valgrind": lambda: _found(
        shutil.which("valgrind"), "valgrind is not installed (apt-get install valgrind)"
    ),
    "locust": lambda: _found(
        importlib.util.find_spec("locust"), "locust is not installed (the fleet extra)"
    ),
    "external-broker": lambda: _found(
        os.environ.get("DTHQ_TEST_BROKER"),
        "DTHQ_TEST_BROKER is not set (.ci/run starts Mosquitto and sets it)",
    ),
}


@cache
def missing(name: str) -> str | None:
    """Why the named requirement is absent, or None; each is looked up once per process."""
    if name not in REQUIREMENTS:
        raise ValueError(f"unknown requirement {name!r}; known: {', '.join(REQUIREMENTS)}")
    return REQUIREMENTS[name]()


def first_missing(names: object) -> str | None:
    """The reason the first absent one of ``names`` is missing, or None."""
    for name in names:  # type: ignore[attr-defined]
        reason = missing(name)
        if reason is not None:
            return reason
    return None
