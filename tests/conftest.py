"""Fixtures and hooks only; the helpers tests import are in tests/helpers.py."""

from __future__ import annotations

import stat
from collections.abc import Iterator

import pytest
from helpers import ATTACKED, WrittenReport, scheme
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


@pytest.fixture(scope="session")
def results_report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WrittenReport]:
    """``write_report`` of test_reports' constructed run, written once (per xdist worker)
    for the tests that only read it. Its files and folder are made read-only, so a test
    that writes there fails instead of changing what the others read."""
    from test_reports import results

    from reports.build import write_report

    out = tmp_path_factory.mktemp("results-report")
    written = tuple(write_report(results(), out))
    for path in written:
        path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    out.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    yield WrittenReport(out, written)
    out.chmod(stat.S_IRWXU)  # pytest may clear its temporary folders later
