"""Sessions: ``nox -s bench``, ``nox -s tests``, ``nox -s lint``, ``nox -s formal``,
``nox -s fuzz``, ``nox -s chaos``, ``nox -s regress``, ``nox -s lock``.

Arguments after ``--`` are passed on and replace (or, for bench and tests, override) the
defaults.
Every session but ``lock`` installs against ``constraints.txt``, so runs on two machines
use the same library versions.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True

BASELINE = "reports/baseline/results.json"
CONSTRAINTS = "constraints.txt"
EXTRAS = ("test", "bench", "kme", "dashboard", "fleet", "lint", "fuzz")  # what the lock file covers


def install(session: nox.Session, *extras: str) -> None:
    """The one install helper: this project, editable, with the named extras, pinned."""
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("-c", CONSTRAINTS, "-e", spec)


@nox.session
def bench(session: nox.Session) -> None:
    """Run the quick benchmark profile and write the report to reports/latest/.

    nox -s bench -- --profile full        # more rounds and the 1-100 MB bulk sweep
    nox -s bench -- --only table3         # one suite
    """
    install(session, "bench")
    session.run("dthq", "bench", "--profile", "quick", "--out", "reports/latest", *session.posargs)


# Both cores; tests that share one expensive module or session fixture (a pip install, five
# bench runs, a clone, a written report) are an xdist_group and run on one worker. The 15
# slowest are shown.
PARALLEL = ("-n", "2", "--dist", "loadgroup", "--durations=15")


@nox.session
def tests(session: nox.Session) -> None:
    """Unit, vector, property, attack and end-to-end tests, on two workers.

    nox -s tests -- -m "not slow"      # no multi-process, end-to-end or install tests
    nox -s tests -- -n 0 tests/test_record.py   # one process, one file
    """
    install(session, "test")
    session.run("pytest", *PARALLEL, *(session.posargs or ["-q"]))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    session.install("-c", CONSTRAINTS, "ruff")
    session.run("ruff", "check", *(session.posargs or ["."]))
    session.run("ruff", "format", "--check", ".")


@nox.session
def regress(session: nox.Session) -> None:
    """Regression gate: this checkout against a git revision, or against a baseline file.

    nox -s regress -- --against HEAD~1                    # instructions, both measured now
    nox -s regress -- --against HEAD~1 --metric time      # interleaved timings instead
    nox -s regress                            # quick profile vs reports/baseline/results.json
    nox -s regress -- OLD.json                # against another baseline
    nox -s regress -- OLD.json NEW.json       # compare two existing results, no run
    """
    install(session, "bench")
    args = list(session.posargs)
    if args and args[0].startswith("--"):
        apt_install(session, "valgrind", "valgrind")
        session.run("dthq", "compare", *args)
        return
    baseline = args[0] if args else BASELINE
    if not Path(baseline).exists():
        session.error(
            f"no baseline at {baseline}: make one on this machine with "
            f"`dthq bench --out {Path(baseline).parent}`"
        )
    if len(args) >= 2:
        current = args[1]
    else:
        session.run("dthq", "bench", "--profile", "quick", "--out", "reports/regress-current")
        current = "reports/regress-current/results.json"
    session.run("dthq", "compare", baseline, current, "--threshold", "10%")


@nox.session
def power(session: nox.Session) -> None:
    """The gate's own error rates: A/A false alarms over 20 comparisons of unchanged code
    (instructions and time; a KS test of the time p-values against uniform) and the
    detection rates of 1, 2, 3 and 5 % injected slowdowns (about 25 minutes on 2 cores;
    writes reports/latest/gate-power.json and .md, read by the report)."""
    install(session, "bench")
    apt_install(session, "valgrind", "valgrind")
    session.run("python", "-m", "bench.gate.power", *session.posargs)


def apt_install(session: nox.Session, package: str, command: str) -> None:
    """A Debian package a session needs, installed when its command is missing."""
    if shutil.which(command) is None:
        session.run("apt-get", "update", "-qq", external=True)
        session.run("apt-get", "install", "-y", "-qq", package, external=True)


@nox.session(venv_backend="none")
def formal(session: nox.Session) -> None:
    """The spin models of the handshake, its Scyther claims and the record epochs (formal/):
    claims hold or fail as formal/claims.json says, and the weakened variants are caught.
    Installs Debian's spin if it is missing."""
    apt_install(session, "spin", "spin")
    session.run("python3", "formal/check.py", *session.posargs)


@nox.session
def chaos(session: nox.Session) -> None:
    """The fault suite through Mosquitto and amqtt, 60 s of faults each (about 4 minutes):
    every process killed and restarted, connections cut, the FHIR server down, hostile
    flights. Its runs go into reports/latest/results.json and the report is rebuilt (the
    "faults survived" table, chaos.md); fails if a run lost, duplicated or forged a reading.

    nox -s chaos -- --duration 300 --devices 10
    """
    install(session)
    apt_install(session, "mosquitto", "mosquitto")
    results = "reports/latest/results.json"
    for broker in ("mosquitto", "amqtt"):
        session.run(
            "dthq", "chaos", "--broker", broker, "--duration", "60", "--results", results,
            "--out", f"reports/latest/chaos-{broker}", *session.posargs,
        )  # fmt: skip
    session.run("dthq", "report", results, "--out", "reports/latest")


@nox.session
def fuzz(session: nox.Session) -> None:
    """Coverage-guided fuzzing (atheris) of every parser, bounded in time.

    nox -s fuzz                        # every target, 20 s each
    nox -s fuzz -- --seconds 120 record
    """
    install(session, "fuzz")
    session.run("python", "fuzz/run.py", *(session.posargs or ["--seconds", "20"]))


@nox.session
def lock(session: nox.Session) -> None:
    """Re-resolve the dependencies of every extra and rewrite constraints.txt."""
    session.install("-e", f".[{','.join(EXTRAS)}]")
    frozen = session.run("pip", "freeze", "--exclude-editable", silent=True) or ""
    pins = [line for line in frozen.splitlines() if line and not line.startswith(("-e", "#"))]
    header = Path(CONSTRAINTS).read_text().splitlines()[:3]
    Path(CONSTRAINTS).write_text("\n".join([*header, *sorted(pins, key=str.lower)]) + "\n")
    session.log(f"wrote {len(pins)} pins to {CONSTRAINTS}")
