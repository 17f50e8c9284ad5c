"""The gate's own benchmark: how often it cries wolf on unchanged code (A/A), and how
often it catches a slowdown injected into DTHQ's code, in instructions and in time.

    python -m bench.gate.power [--comparisons 20] [--pairs 12] [--reps 10] [--out DIR]

- A/A, instructions: the quick gated set counted ``comparisons + 1`` times on unchanged
  code (each a fresh process); each rerun is compared with the one before it.
- A/A, time: ``comparisons`` same-runner A/B comparisons of unchanged code, each
  ``pairs`` interleaved base/head runs of the DTHQ psk handshake; their Wilcoxon
  p-values are tested against uniform (KS).
- Power: an empty loop injected into DTHQ's initiator (bench/icount_driver.py
  --inject-loops), sized to add 1, 2, 3 and 5 % to the psk handshake (by its own
  calibrated instruction count, or its own seconds), each ``reps`` times.

Raw measurements are kept in the JSON, so bench/gate/power_analysis.py derives every
rate (at any soft limit) from them. Writes gate-power.json and gate-power.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import instructions
from bench.against import clock
from bench.gate.power_analysis import FIGURE, FRACTIONS, analyse, markdown
from bench.icount_driver import LOOP_FIGURE

ROOT = Path(__file__).resolve().parent.parent.parent
Log = Callable[[str], None]


def instruction_runs(comparisons: int, reps: int, log: Log, jobs: int = 1) -> dict[str, Any]:
    def one(i: int) -> dict[str, float]:
        log(f"instructions A/A: unchanged run {i + 1}/{comparisons + 1}")
        return instructions.count(ROOT).per_op

    # counts do not move with the machine's load: the A/A runs may share its cores
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        aa = list(pool.map(one, range(comparisons + 1)))
    log("instructions: calibrating the injected loop")
    calib = instructions.count(ROOT, n=3, only=[FIGURE], calibrate=True)
    per_loop = calib.per_op[LOOP_FIGURE] / 10_000
    base = []
    for i in range(reps):
        log(f"instructions: unchanged psk handshake {i + 1}/{reps}")
        base.append(instructions.count(ROOT, n=3, only=[FIGURE]).per_op[FIGURE])
    handshake = min(base)
    injected: dict[str, Any] = {}
    for fraction in FRACTIONS:
        loops = round(fraction * handshake / per_loop)
        counts = []
        for i in range(reps):
            log(f"instructions: +{fraction:.0%} injected ({loops} loops) {i + 1}/{reps}")
            counts.append(
                instructions.count(ROOT, n=3, only=[FIGURE], inject_loops=loops).per_op[FIGURE]
            )
        injected[str(fraction)] = {"loops": loops, "counts": counts}
    return {"aa": aa, "per_loop": per_loop, "base": base, "injected": injected}


def _ab(pairs: int, loops: int) -> dict[str, list[float]]:
    """``pairs`` interleaved base, head runs of the psk handshake; head with ``loops``."""
    base, head = [], []
    for _ in range(pairs):
        base.append(clock(ROOT, "quick", 20, 5, [FIGURE]).per_op[FIGURE])
        head.append(clock(ROOT, "quick", 20, 5, [FIGURE], inject_loops=loops).per_op[FIGURE])
    return {"base": base, "head": head}


def time_runs(comparisons: int, pairs: int, reps: int, log: Log) -> dict[str, Any]:
    aa = []
    for i in range(comparisons):
        log(f"time A/A: unchanged A/B {i + 1}/{comparisons} ({pairs} pairs)")
        aa.append(_ab(pairs, 0))
    calib = clock(ROOT, "quick", 20, 5, [FIGURE], calibrate=True).per_op
    per_loop, handshake = calib[LOOP_FIGURE] / 10_000, calib[FIGURE]
    injected: dict[str, Any] = {}
    for fraction in FRACTIONS:
        loops = round(fraction * handshake / per_loop)
        runs = []
        for i in range(reps):
            log(f"time: +{fraction:.0%} injected ({loops} loops) {i + 1}/{reps}")
            runs.append(_ab(pairs, loops))
        injected[str(fraction)] = {"loops": loops, "comparisons": runs}
    return {"pairs": pairs, "aa": aa, "per_loop_s": per_loop, "injected": injected}


def _commit() -> str:
    proc = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return proc.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comparisons", type=int, default=20, help="A/A comparisons a metric")
    parser.add_argument("--pairs", type=int, default=12, help="base/head pairs a time A/B")
    parser.add_argument("--reps", type=int, default=10, help="repeats of each injected step")
    parser.add_argument("--out", type=Path, default=Path("reports/latest"))
    parser.add_argument("--skip-instructions", action="store_true", help="time only")
    parser.add_argument("--jobs", type=int, default=2, help="instruction A/A runs at once")
    args = parser.parse_args(argv)
    start = time.perf_counter()

    def log(line: str) -> None:
        print(f"[{time.perf_counter() - start:6.0f} s] {line}", flush=True)

    raw: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {platform.platform()}",
        "cores": len(__import__("os").sched_getaffinity(0)),
        "commit": _commit(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "valgrind": instructions.valgrind_version(),
        "figure": FIGURE,
        "measured": "measured on the machine named here, shared with other work",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    raw["time"] = time_runs(args.comparisons, args.pairs, args.reps, log)
    # the time part's raw runs kept, should the instruction part not finish
    (args.out / "gate-power.partial.json").write_text(json.dumps(raw, indent=1))
    if not args.skip_instructions:
        raw["instructions"] = instruction_runs(args.comparisons, args.reps, log, args.jobs)
    raw["wall_s"] = round(time.perf_counter() - start)
    # kept before the analysis, so a failing analysis loses no measurement
    (args.out / "gate-power.raw.json").write_text(json.dumps(raw, indent=1))
    result = raw | {"summary": analyse(raw)}
    (args.out / "gate-power.json").write_text(json.dumps(result, indent=1))
    (args.out / "gate-power.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
