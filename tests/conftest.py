"""Fixtures and hooks only; the helpers tests import are in tests/helpers.py."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

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


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--dist loadgroup`` on pytest 9.2: pytest-xdist 3.8 names a test's group by setting
    ``item._nodeid`` to ``nodeid@group``, but pytest 9.2 reads the nodeid from ``item._id``,
    so the suffix is lost and each group is spread over both workers, every one of them
    making the group's module fixture again (pytest-xdist issue 1386). Here, after xdist's
    own hook on a worker, a grouped test without the suffix gets it; with an xdist or a
    pytest where the suffix holds, this does nothing."""
    if not getattr(config.option, "loadgroup", False):
        return
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # a pytest before 9.2: xdist's suffix holds
        return
    for item in items:
        marks = item.iter_markers("xdist_group")
        names = {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks}
        suffix = "@" + "_".join(sorted(names))
        if names and not item.nodeid.endswith(suffix) and hasattr(item, "_id"):
            item._id = NodeId.parse(item.nodeid + suffix)


@pytest.fixture(params=ATTACKED)
def auth_scheme(request: pytest.FixtureRequest) -> DTHQScheme:
    return scheme(*request.param)


FORMAL_CLAIMS = Path(__file__).parent / "data" / "formal-claims.json"


@pytest.fixture(scope="session")
def results_report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WrittenReport]:
    """``write_report`` of test_reports' constructed run, written once (per xdist worker)
    for the tests that only read it. At the end the folder must hold what was written,
    byte for byte: a test that changed it fails here instead of changing what others read."""
    from test_reports import results

    from reports.build import write_report
    from reports.verdicts import formal_claims

    out = tmp_path_factory.mktemp("results-report")
    with pytest.MonkeyPatch.context() as patch:  # the constructed formal claims, not the model's
        patch.setattr(formal_claims, "CLAIMS_FILE", FORMAL_CLAIMS)
        written = tuple(write_report(results(), out))
    before = _contents(out)
    yield WrittenReport(out, written)
    assert _contents(out) == before, f"a test changed the shared report in {out}"


def _contents(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}
