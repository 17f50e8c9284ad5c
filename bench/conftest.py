"""pytest-benchmark harness: the profile option, machine metadata, shared fixtures.

Every benchmark tags itself with ``extra_info``: ``suite`` (primitives, table3,
table4, bulk), the scenario keys and byte counts; reports/ reads only those.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest

import dthq
from dthq.harness.metadata import collect
from dthq.harness.scenarios import Profile, profile

dthq.load_plugins()  # the baselines (and any installed scheme) are entry points

SLOWDOWN_ENV = "DTHQ_BENCH_SLOWDOWN"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--profile",
        default="quick",
        choices=["quick", "full"],
        help="scenario profile: quick (minutes) or full (adds the bulk sweep)",
    )


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    machine_info["dthq"] = collect()
    machine_info["dthq"]["profile"] = config.getoption("--profile")
    machine_info["dthq"]["slowdown"] = os.environ.get(SLOWDOWN_ENV)


@pytest.fixture(scope="session")
def bench_profile(request: pytest.FixtureRequest) -> Profile:
    return profile(request.config.getoption("--profile"))


@cache
def scheme(name: str, **options: Any) -> Any:
    """Provisioned once per configuration (RSA and ML-DSA key generation is not timed)."""
    return dthq.SCHEMES.get(name)(**options)


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
