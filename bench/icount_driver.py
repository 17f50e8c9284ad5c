"""The child that bench/instructions.py runs, under callgrind or alone, against one tree.

    python bench/icount_driver.py --tree DIR --set quick --n 5 --out FIGURES.json [--clock]

It imports ``dthq`` and ``bench`` from ``--tree`` (this checkout, or a worktree of another
revision), so the same figures are measured in both trees by the same driver. For each
gated figure it runs one warm-up call, then calls ``os.getppid()`` as a marker, the
operation N times, the marker, the operation 2N times, the marker. Under
``valgrind --tool=callgrind --dump-before=getppid`` every marker dumps the instructions
since the previous one, so a figure's cost per operation is (I(2N) - I(N)) / N: the
interpreter's start, the imports, the setup and the markers themselves cancel.

With ``--clock`` no markers: each figure's best-of-``--repeat`` seconds per operation.
With ``--inject-loops K`` DTHQ's initiator runs K empty loop iterations more per
handshake: the injected slowdown the gate's power is measured with.

Only public, long-lived interfaces of the tree are used (the scenario matrix and
bench.provision.scheme), so an older revision can be measured; a figure the older tree
cannot build is reported as missing there, not as a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

Op = Callable[[], Any]
MARK = os.getppid  # one libc call, named in callgrind's --dump-before
LOOP_FIGURE = "calibrate/loop-10000"
# One round of 64 readings (bench/metrics_cost.ROUND) through the in-memory pipeline,
# with the real metrics and with none: "metrics cost per reading" is their ratio.
METRICS_WITH, METRICS_WITHOUT = "pipeline/round-64", "pipeline/round-64-no-metrics"
# A round costs ~5e8 instructions (a minute under callgrind): these figures take a third
# of the N calls, at least one; with one, two runs' counts differed by 0.03-0.1 %.
ROUNDS_SHARE = 3


def calls(key: str, n: int) -> int:
    """How many calls a figure's N is (its 2N twice that)."""
    return max(1, n // ROUNDS_SHARE) if key.startswith("pipeline/") else n


# Hedged ML-DSA signing (OpenSSL's) repeats its rejection loop a random number of times,
# so these rows' counts move by tens of percent between runs: counted in the full set,
# flagged, never gated. The pqcrypto row is steady but costs seconds under callgrind.
RANDOMISED = ("mldsa", "tls13-x25519mlkem768", "tls13-mlkem768")


def randomised(key: str) -> bool:
    return key.startswith("handshake/") and any(r in key for r in RANDOMISED)


def _figures(which: str) -> list[tuple[str, Callable[[], Op]]]:
    """(key, setup) for each gated figure; setup returns the operation to count."""
    import dthq
    from bench.provision import scheme

    dthq.load_plugins()  # the baselines are entry points
    from dthq.harness import scenarios
    from dthq.harness.telemetry import TelemetryGenerator

    figures: list[tuple[str, Callable[[], Op]]] = []
    for row in scenarios.table3_scenarios(dthq.SCHEMES.names()):
        if "qkd" in row.scheme:
            continue  # Q's simulated link refills its pool at random moments
        if which == "quick" and randomised(f"handshake/{row.key}"):
            continue

        def handshake(row: Any = row) -> Op:
            return partial(scheme(row.scheme, **row.scheme_options(compress=True)).establish, 0)

        figures.append((f"handshake/{row.key}", handshake))
    for cell in scenarios.TABLE4:
        if cell.kem.suffix:  # the QKD cells' record path is the ML-KEM cells' own
            continue
        if which == "quick" and cell.size == "large":
            continue

        def seal_open(cell: Any = cell) -> Op:
            s = scheme("dthq", key_length=cell.key_length, edge=cell.edge)
            session = s.establish(0)
            payload = TelemetryGenerator(seed=1).payload(cell.size)
            seal, open_ = session.initiator.seal, session.responder.open
            return lambda: open_(seal(payload, 1), 1)

        figures.append((f"record/{cell.key}", seal_open))
    figures += [(METRICS_WITH, partial(_round, False)), (METRICS_WITHOUT, partial(_round, True))]
    return figures


def _round(null: bool) -> Op:
    """The pipeline, started in memory; each call one reading per device, end to end."""
    from bench.metrics_cost import NullMetrics, Round
    from dthq.pipeline.metrics import Metrics

    return Round(NullMetrics() if null else Metrics())


def _inject(loops: int) -> None:
    """K more loop iterations in every DTHQ handshake (A's first step)."""
    from dthq.protocol.handshake import Initiator

    start = Initiator.start

    def slower_start(self: Any, *args: Any, **kwargs: Any) -> Any:
        for _ in range(loops):
            pass
        return start(self, *args, **kwargs)

    Initiator.start = slower_start  # type: ignore[method-assign]


def _loop() -> Op:
    def op() -> None:
        for _ in range(10_000):
            pass

    return op


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, required=True)
    parser.add_argument("--set", dest="which", choices=["quick", "full"], default="quick")
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--only", default="", help="comma-separated figure keys")
    parser.add_argument("--clock", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--inject-loops", type=int, default=0)
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument(
        "--instrument-after-imports",
        action="store_true",
        help="under callgrind --instr-atstart=no: switch instrumentation on once imported",
    )
    args = parser.parse_args(argv)

    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [str(args.tree.resolve())] + [p for p in sys.path if p != here]
    figures = _figures(args.which)
    if args.only:
        wanted = set(args.only.split(","))
        figures = [f for f in figures if f[0] in wanted]
    if args.calibrate:
        figures.insert(0, (LOOP_FIGURE, _loop))
    if args.inject_loops:
        _inject(args.inject_loops)
    if args.instrument_after_imports:
        # The imports run uninstrumented, about 5x faster under valgrind than counted.
        import subprocess

        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True)

    done: list[str] = []
    n_of: dict[str, int] = {}
    missing: dict[str, str] = {}
    seconds: dict[str, float] = {}
    MARK()  # the interpreter's start and the imports end here
    for key, setup in figures:
        try:
            op = setup()
            op()  # warm: lazy imports, caches, first-call costs
        except Exception as exc:  # an older tree may lack what a figure needs
            missing[key] = f"{type(exc).__name__}: {exc}"
            continue
        n = n_of[key] = calls(key, args.n)
        if args.clock:
            best = float("inf")
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                for _ in range(n):
                    op()
                best = min(best, (time.perf_counter() - t0) / n)
            seconds[key] = best
        else:
            MARK()
            for _ in range(n):
                op()
            MARK()
            for _ in range(2 * n):
                op()
            MARK()
        close = getattr(op, "close", None)
        if close is not None:  # its threads stop before the next figure is counted
            close()
        done.append(key)
    args.out.write_text(
        json.dumps(
            {
                "figures": done,
                "missing": missing,
                "n": args.n,
                "n_of": n_of,  # a figure's own N, where it is not n
                "seconds": seconds,
                "randomised": [key for key in done if randomised(key)],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
