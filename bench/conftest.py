"""pytest-benchmark harness: the profile option, machine metadata, the gate's self-test.

Every benchmark tags itself through bench/tags.py; bench/ingest.py turns the tags
back into the results model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import dthq
from dthq.harness.metadata import collect
from dthq.harness.requirements import first_missing
from dthq.harness.scenarios import PROFILES, Profile, profile

dthq.load_plugins()  # the baselines (and any installed scheme) are entry points

SLOWDOWN_ENV = "DTHQ_BENCH_SLOWDOWN"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--profile",
        default="quick",
        choices=list(PROFILES),
        help="scenario profile: quick (minutes) or full (adds the bulk sweep)",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """``@pytest.mark.requires(...)``, read as tests/conftest.py reads it: a benchmark
    whose program or service is absent is skipped, with the reason."""
    for marker in item.iter_markers("requires"):
        reason = first_missing(marker.args)
        if reason is not None:
            pytest.skip(reason)


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    machine_info["dthq"] = collect()
    chosen = profile(config.getoption("--profile"))
    machine_info["dthq"]["profile"] = chosen.name
    machine_info["dthq"]["messages_per_session"] = chosen.messages_per_session
    machine_info["dthq"]["slowdown"] = os.environ.get(SLOWDOWN_ENV)


@pytest.fixture(scope="session")
def bench_profile(request: pytest.FixtureRequest) -> Profile:
    return profile(request.config.getoption("--profile"))


def _slowed(fn: Callable[..., Any], factor: float) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        until = start + (time.perf_counter() - start) * factor
        while time.perf_counter() < until:
            pass
        return result

    return wrapper


@pytest.fixture(scope="session", autouse=True)
def _inject_slowdown() -> Any:
    """Self-test of the regression gate: ``DTHQ_BENCH_SLOWDOWN=3`` makes DTHQ's own code
    (handshake and record layer, not the primitives) three times slower."""
    factor = float(os.environ.get(SLOWDOWN_ENV) or 1)
    if factor == 1:
        yield
        return
    from dthq.protocol.record import RecordLayer
    from dthq.schemes.dthq import DTHQScheme

    patch = pytest.MonkeyPatch()
    patch.setattr(DTHQScheme, "establish", _slowed(DTHQScheme.establish, factor))
    patch.setattr(RecordLayer, "seal", _slowed(RecordLayer.seal, factor))
    patch.setattr(RecordLayer, "open", _slowed(RecordLayer.open, factor))
    yield
    patch.undo()


@pytest.fixture
def bench_progress(request: pytest.FixtureRequest) -> Callable[[int, int, str], None]:
    """Steps inside a long benchmark, on the run's progress bar (a no-op without one)."""
    from bench.progress import PROGRESS

    bar = request.config.stash.get(PROGRESS, None)
    return bar.step if bar is not None else lambda *_: None


@pytest.fixture
def every_cpu() -> Iterator[None]:
    """The machine's cores for a benchmark whose processes are placed apart (the bench
    pins itself to one CPU, where they would all share it)."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    pinned = os.sched_getaffinity(0)
    os.sched_setaffinity(0, range(os.cpu_count() or 1))
    try:
        yield
    finally:
        os.sched_setaffinity(0, pinned)
