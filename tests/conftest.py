"""Fixtures and hooks only; the helpers tests import are in tests/helpers.py."""

from __future__ import annotations

import pytest
from helpers import ATTACKED, scheme
from hypothesis import HealthCheck, settings

from dthq.harness.requirements import first_missing
from dthq.schemes.dthq import DTHQScheme

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=200
)
settings.load_profile("default")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """``@pytest.mark.requires(...)``: a test whose program or service is absent is
    skipped, and the reason is printed (``-ra``). bench/conftest.py reads it the same way."""
    for marker in item.iter_markers("requires"):
        try:
            reason = first_missing(marker.args)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
        if reason is not None:
            pytest.skip(reason)


@pytest.fixture(params=ATTACKED)
def auth_scheme(request: pytest.FixtureRequest) -> DTHQScheme:
    return scheme(*request.param)
