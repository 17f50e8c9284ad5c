"""The ``dthq`` command line: the project's one composition root.

Only this module may import ``baselines``, ``bench`` and ``reports``, and only
inside the commands that need them, so ``dthq backends`` stays fast and light.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import click

from dthq.errors import DTHQError, UnsupportedError
from dthq.protocol.suites import KEY_LENGTHS


class _Group(click.Group):
    """Errors a user can cause print one line and exit non-zero, never a traceback."""

    def main(self, args: Any = None, prog_name: str | None = None, **kwargs: Any) -> Any:
        try:
            result = super().main(args, prog_name, standalone_mode=False, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            sys.exit(0)
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(1)
        except DTHQError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dthq-bench", prog_name="dthq")
def main() -> None:
    """DTHQ bench: run, benchmark and check the DTHQ protocol beside its baselines.

    \b
    Examples:
      dthq handshake --kem ML-KEM-768 --auth psk --key-length 256 --json
      dthq backends
    """


@main.command()
@click.option(
    "--kem",
    default="ML-KEM-768",
    show_default=True,
    help="KEM for the session key: ML-KEM-768, ML-KEM-1024, or ML-KEM-512 (liboqs).",
)
@click.option(
    "--auth",
    type=click.Choice(["psk", "mldsa", "mldsa44", "mldsa65"]),
    default="psk",
    show_default=True,
    help="Peer authentication: device PSK, or ML-DSA signatures (mldsa = ML-DSA-65).",
)
@click.option(
    "--key-length",
    type=click.Choice([str(k) for k in KEY_LENGTHS]),
    default="256",
    show_default=True,
    help="Session key bits: 128 AES-128-GCM, 256 AES-256-GCM, 512 AES-256-SIV.",
)
@click.option("--chacha", is_flag=True, help="Use ChaCha20-Poly1305 (key length 256 only).")
@click.option(
    "--edge",
    type=click.Choice(["far", "near"]),
    default="near",
    show_default=True,
    help="Edge profile: far = LZ4, near = Brotli, applied to the test record.",
)
@click.option("--kem-backend", default=None, help="KEM backend (see `dthq backends`).")
@click.option("--aead-backend", default=None, help="AEAD backend (see `dthq backends`).")
@click.option(
    "--rounds",
    type=click.IntRange(1, 10_000),
    default=1,
    show_default=True,
    help="Handshakes to run; the median time is reported.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Telemetry seed for the test record."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def handshake(
    kem: str,
    auth: str,
    key_length: str,
    chacha: bool,
    edge: str,
    kem_backend: str | None,
    aead_backend: str | None,
    rounds: int,
    seed: int,
    as_json: bool,
) -> None:
    """Run a full in-process DTHQ handshake, then one record each way.

    Handshake time covers both parties' computation for all three flights
    (ephemeral ML-KEM key generation included; provisioning of the PSK or
    ML-DSA keys is not). It is a wall-clock figure for this machine only.
    """
    from dthq.harness.telemetry import TelemetryGenerator
    from dthq.schemes.dthq import DTHQScheme

    scheme = DTHQScheme(
        key_length=int(key_length),
        kem=kem,
        auth=auth,
        chacha=chacha,
        edge=edge,
        kem_backend=kem_backend,
        aead_backend=aead_backend,
    )
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        session = scheme.establish(now_ms=0)
        times.append((time.perf_counter() - start) * 1000)
    reading = TelemetryGenerator(seed).payload("small")
    record = session.initiator.seal(reading, now_ms=1)
    established = session.responder.open(record) == reading
    echo = session.responder.seal(b"ack", now_ms=2)
    established = established and session.initiator.open(echo) == b"ack"
    result = {
        "scheme": scheme.name,
        **scheme.params,
        "suite": scheme.suite.name,
        "flights": [f.size for f in session.flights],
        "flight_names": [f.name for f in session.flights],
        "handshake_bytes": session.handshake_bytes,
        "record_overhead_bytes": session.initiator.overhead,
        "record_bytes": len(record),
        "payload_bytes": len(reading),
        "handshake_ms": round(statistics.median(times), 4),
        "rounds": rounds,
        "established": established,
    }
    if as_json:
        click.echo(json.dumps(result))
        return
    for key, value in result.items():
        click.echo(f"{key:22} {value}")


def _bench_dir() -> Path:
    here = Path(__file__).resolve().parents[1] / "bench"
    if not (here / "conftest.py").exists():
        raise UnsupportedError(
            f"benchmark suites not found at {here}: run from a source checkout "
            "installed with `pip install -e '.[bench]'`"
        )
    return here


@main.command()
@click.option(
    "--profile",
    "profile_name",
    type=click.Choice(["quick", "full"]),
    default="quick",
    show_default=True,
    help="quick: a few minutes on 2 cores; full: more rounds and the 1-100 MB bulk sweep.",
)
@click.option(
    "--only",
    default=None,
    metavar="EXPR",
    help="Run a subset: a suite (primitives, table3, table4) or a pytest -k expression.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports/latest"),
    show_default=True,
    help="Directory for results.json, tables, figures and report.html.",
)
def bench(profile_name: str, only: str | None, out: Path) -> None:
    """Run the benchmark suites and write the report.

    Measures the primitives (the floor), Table 3 (DTHQ beside RSA-2048, ECC-256
    and TLS 1.3 classical / hybrid / ML-KEM) and Table 4 (DTHQ over key length x
    edge x data size), then writes the report to OUT.
    """
    import pytest

    from dthq.harness.scenarios import profile
    from reports.build import write_report
    from reports.results import from_benchmark_json

    chosen = profile(profile_name)
    suites = {
        "primitives": "test_primitives.py",
        "table3": "test_table3.py",
        "table4": "test_table4.py",
    }
    bench_dir = _bench_dir()
    targets = [str(bench_dir / suites[only])] if only in suites else [str(bench_dir)]
    out.mkdir(parents=True, exist_ok=True)
    raw_path = out / "benchmark-raw.json"
    args = [
        *targets,
        "-q",
        "-p",
        "no:cacheprovider",
        "--no-header",
        "-rN",
        f"--profile={profile_name}",
        f"--benchmark-json={raw_path}",
        f"--benchmark-max-time={chosen.max_time_s}",
        f"--benchmark-min-rounds={chosen.min_rounds}",
        "--benchmark-columns=median,iqr,rounds",
        "--benchmark-sort=fullname",
        "--benchmark-disable-gc",
        "--benchmark-quiet",
        "-o",
        "console_output_style=classic",
        "--capture=sys",
    ]
    if only and only not in suites:
        args += ["-k", only]
    _pin_to_one_cpu()
    start = time.perf_counter()
    with _Progress() as progress:
        code = pytest.main(args, plugins=[progress])
    wall = time.perf_counter() - start
    if code != 0:
        raise click.ClickException(f"benchmarks failed (pytest exit {int(code)}); see above")
    raw = json.loads(raw_path.read_text())
    results = from_benchmark_json(
        raw,
        profile=profile_name,
        messages_per_session=chosen.messages_per_session,
        wall_time_s=wall,
    )
    written = write_report(results, out)
    click.echo(
        f"{len(raw['benchmarks'])} benchmarks in {wall:.0f} s; wrote {len(written)} "
        f"files to {out}/ (open {out / 'report.html'})"
    )


def _pin_to_one_cpu() -> None:
    """Run on one CPU (the last one allowed, away from CPU 0's interrupts): a run that hops
    between cores of different load drifts by tens of percent on a shared machine."""
    if hasattr(os, "sched_setaffinity"):
        allowed = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {max(allowed)})


class _Progress:
    """A pytest plugin that drives a rich progress bar, one step per benchmark."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self._bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=False,
        )
        self._task = self._bar.add_task("benchmarks", total=None)

    def __enter__(self) -> _Progress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def pytest_collection_finish(self, session: Any) -> None:
        self._bar.update(self._task, total=len(session.items))

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call" or (report.when == "setup" and report.skipped):
            self._bar.update(self._task, advance=1, description=report.nodeid.split("::")[-1])


@main.command()
@click.argument("results_file", metavar="RESULTS", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to write the report to.",
)
def report(results_file: Path, out: Path) -> None:
    """Write tables, figures, the paper comparison and report.html from RESULTS.

    RESULTS is a results.json (ours) or the raw pytest-benchmark JSON of the
    bench suites.
    """
    from reports.build import write_report
    from reports.results import from_file

    written = write_report(from_file(results_file), out)
    click.echo(f"wrote {len(written)} files to {out}/")


@main.command()
@click.argument("baseline", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("current", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--threshold",
    default="10%",
    show_default=True,
    help="Smallest normalised change that counts, e.g. 10% or 0.1.",
)
@click.option(
    "--show",
    type=click.Choice(["moved", "all"]),
    default="moved",
    show_default=True,
    help="Print only figures that moved, or every figure.",
)
def compare(baseline: Path, current: Path, threshold: str, show: str) -> None:
    """Regression gate: exit 1 if CURRENT is slower than BASELINE beyond the threshold.

    Each figure's fastest round is compared as a ratio to its run's primitive
    floor (geometric mean of the primitive times measured in the same run), so a
    slower or busier machine does not fail the gate while a regression in our
    code does. Primitives are reported but never fail the gate.
    """
    from tabulate import tabulate

    from reports.compare import compare as run_compare
    from reports.compare import parse_threshold
    from reports.results import load

    try:
        limit = parse_threshold(threshold)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--threshold") from None
    changes = run_compare(load(baseline), load(current), limit)
    shown = [c for c in changes if show == "all" or c.verdict != "not significant"]
    if shown:
        click.echo(
            tabulate(
                [
                    [
                        c.figure,
                        f"{c.baseline:.4g}",
                        f"{c.current:.4g}",
                        f"{c.ratio:.3f}",
                        f"{c.noise:.1%}",
                        c.verdict if c.gated else f"{c.verdict} (floor, not gated)",
                    ]
                    for c in shown
                ],
                headers=["figure", "baseline", "current", "normalised ratio", "noise", "verdict"],
            )
        )
    gated = [c for c in changes if c.gated]
    slower = [c for c in gated if c.verdict == "slower"]
    faster = [c for c in gated if c.verdict == "faster"]
    click.echo(
        f"{len(gated)} gated figures: {len(slower)} slower, {len(faster)} faster, "
        f"{len(gated) - len(slower) - len(faster)} not significant (threshold {limit:.0%}); "
        f"{len(changes) - len(gated)} primitive floor figures reported, not gated"
    )
    if slower:
        raise click.exceptions.Exit(1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def backends(as_json: bool) -> None:
    """List every KEM and AEAD backend, whether it is available, and why not."""
    from dthq.crypto.aead import AEADS
    from dthq.crypto.kem import KEMS

    rows = [
        {
            "kind": registry.kind,
            "name": e.name,
            "backend": e.backend,
            "available": e.available,
            "reason": e.reason,
        }
        for registry in (KEMS, AEADS)
        for e in registry.entries()
    ]
    if as_json:
        click.echo(json.dumps(rows))
        return
    from tabulate import tabulate

    click.echo(
        tabulate(
            [
                [r["kind"], r["name"], r["backend"], "yes" if r["available"] else "no", r["reason"]]
                for r in rows
            ],
            headers=["kind", "name", "backend", "available", "reason"],
        )
    )


if __name__ == "__main__":
    main()
