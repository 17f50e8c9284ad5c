"""Run the benchmark suites and return their results: ``run(profile, only, out)``.

Callable from Python, from the CLI (``dthq bench``) and from nox. It owns the suite
list, the pytest-benchmark arguments of each profile, CPU pinning and the progress
bar; bench/ingest.py turns what pytest-benchmark wrote into the results model.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import dthq
from bench.ingest import from_benchmark_json
from bench.progress import Progress
from dthq.errors import DTHQError, RunAborted
from dthq.harness.results import Results
from dthq.harness.scenarios import profile as profile_named

BENCH_DIR = Path(__file__).resolve().parent
SUITES = {
    "primitives": "test_primitives.py",
    "table3": "test_table3.py",
    "table4": "test_table4.py",
    "dos": "test_dos.py",
    "qkd": "test_qkd.py",
    "pipeline": "test_pipeline.py",
    "fleet": "test_fleet.py",
    "soak": "test_soak.py",
    "chaos": "test_chaos.py",
    "failover": "test_failover.py",
    "held": "test_held.py",
    "schemes": "test_schemes.py",
    "store": "test_store.py",
    "paired": "test_paired.py",
}
RAW_NAME = "benchmark-raw.json"


class BenchmarkFailure(RunAborted):
    """A benchmark raised or asserted: the run's figures cannot be trusted."""


class NoBenchmark(DTHQError):
    """--only matched no benchmark: a usage error, not a failed run."""


def pin_to_one_cpu() -> int | None:
    """Run on one CPU (the last one allowed, away from CPU 0's interrupts): a run that hops
    between cores of different load drifts by tens of percent on a shared machine."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def pytest_args(profile: str, only: str | None, raw_path: Path) -> list[str]:
    chosen = profile_named(profile)
    targets = [str(BENCH_DIR / SUITES[only])] if only in SUITES else [str(BENCH_DIR)]
    args = [
        *targets,
        "-q",
        "-p",
        "no:cacheprovider",
        "--no-header",
        "-rN",
        f"--profile={chosen.name}",
        f"--benchmark-json={raw_path}",
        f"--benchmark-max-time={chosen.max_time_s}",
        f"--benchmark-min-rounds={chosen.min_rounds}",
        # Rounds of at least 2.5 ms: pyperf's floor is 1 ms (a shorter raw value makes a
        # figure unstable, dthq.harness.stability), with a margin for rounds faster than
        # the calibrating one (1.5 ms left some at 0.75 ms when calibrated under load).
        # The time per benchmark is max_time's either way.
        "--benchmark-min-time=0.0025",
        "--benchmark-columns=median,iqr,rounds",
        "--benchmark-sort=fullname",
        "--benchmark-disable-gc",
        "--benchmark-quiet",
        "-o",
        "console_output_style=classic",
        "--capture=sys",
    ]
    if only and only not in SUITES:
        args += ["-k", only]
    return args


def run(
    profile: str = "quick",
    only: str | None = None,
    out: Path = Path("reports/latest"),
    *,
    pin: bool = True,
    progress: bool = True,
) -> Results:
    """Run the suites (``only``: a suite name or a pytest -k expression), leave the raw
    pytest-benchmark JSON in ``out``, and return the results model."""
    import pytest

    profile_named(profile)  # an unknown profile fails before anything runs
    dthq.load_plugins()  # installed schemes join Table 3
    out.mkdir(parents=True, exist_ok=True)
    raw_path = out / RAW_NAME
    if pin:
        pin_to_one_cpu()
    plugins = [Progress()] if progress else []
    start = time.perf_counter()
    if plugins:
        with plugins[0]:
            code = pytest.main(pytest_args(profile, only, raw_path), plugins=plugins)
    else:
        code = pytest.main(pytest_args(profile, only, raw_path))
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        raise NoBenchmark(f"no benchmark matches --only {only!r}")
    if code != 0:
        raise BenchmarkFailure(f"benchmarks failed (pytest exit {int(code)}); see above")
    results = from_benchmark_json(json.loads(raw_path.read_text()), wall_time_s=None)
    if only is None:
        results = with_instruction_counts(results, profile)
    # The run's wall time covers the suites and the instruction counts: all but the
    # report, the budget's measure (the report takes seconds, and runs after)
    wall = time.perf_counter() - start
    return replace(results, metadata=replace(results.metadata, wall_time_s=wall))


def with_instruction_counts(results: Results, profile: str) -> Results:
    """The gated figures' instructions per operation beside the timings (callgrind);
    without valgrind the run says so and carries none."""
    from bench import instructions

    version = instructions.valgrind_version()
    if version is None:
        print("instruction counts skipped: valgrind is not installed (apt-get install valgrind)")
        return results
    which, n = ("full", 10) if profile == "full" else ("quick", 3)
    print(f"counting instructions under callgrind ({which} set, N={n}) ...", flush=True)
    counts = instructions.count(BENCH_DIR.parent, which, n)
    return replace(
        results,
        instructions=counts.records(),
        metadata=replace(results.metadata, valgrind=version),
    )
