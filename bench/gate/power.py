"""The gate's own benchmark: how small a slowdown of DTHQ's code each gate catches, and
how often it cries wolf on unchanged code.

    python -m bench.gate.power [--reruns 10] [--out reports/latest]

- False alarms: the quick gated set counted ``--reruns`` times on unchanged code (each
  a fresh process); each rerun is compared with the first by the instruction gate at its
  3 % default and at 1 %. The time gate's: as many unchanged same-runner A/B pairs
  (base, head, base, head) of the DTHQ psk handshake at its 10 % default.
- Power: an empty loop injected into DTHQ's initiator (bench/icount_driver.py
  --inject-loops), sized to add a chosen fraction to the psk handshake, by instructions
  (the loop's own count, calibrated in the same process) or by time (its own seconds).
  The smallest fraction each gate calls slower is its detection threshold.

Writes gate-power.json and gate-power.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import instructions
from bench.against import clock
from bench.gate.compare import Verdict, compare_per_op
from bench.icount_driver import LOOP_FIGURE

ROOT = Path(__file__).resolve().parent.parent
FIGURE = "handshake/dthq-mlkem768-psk"
INSTRUCTION_STEPS = (0.005, 0.01, 0.015, 0.02, 0.03, 0.05)
TIME_STEPS = (0.02, 0.05, 0.10, 0.20, 0.50, 1.0, 2.0)


def _slower(base: Sequence[dict[str, float]], head: Sequence[dict[str, float]], t: float) -> bool:
    changes = compare_per_op(base, head, t)
    return any(c.verdict is Verdict.SLOWER for c in changes if c.figure == FIGURE)


def _false_alarms(runs: list[dict[str, float]], threshold: float) -> int:
    first = runs[0]
    return sum(
        any(
            c.verdict is not Verdict.NOT_SIGNIFICANT
            for c in compare_per_op([first], [r], threshold)
        )
        for r in runs[1:]
    )


def instruction_gate(reruns: int, log: Callable[[str], None]) -> dict[str, Any]:
    runs = []
    for i in range(reruns):
        log(f"instructions: unchanged rerun {i + 1}/{reruns}")
        runs.append(instructions.count(ROOT).per_op)
    spread = {key: max(r[key] for r in runs) / min(r[key] for r in runs) - 1 for key in runs[0]}
    log("instructions: calibrating the injected loop")
    calib = instructions.count(ROOT, n=3, only=[FIGURE], calibrate=True)
    per_loop = calib.per_op[LOOP_FIGURE] / 10_000
    base = statistics.median(r[FIGURE] for r in runs)  # unchanged code, over the reruns
    steps = []
    for fraction in INSTRUCTION_STEPS:
        log(f"instructions: +{fraction:.1%} injected")
        loops = round(fraction * base / per_loop)
        slowed = instructions.count(ROOT, n=3, only=[FIGURE], inject_loops=loops).per_op
        steps.append(
            {
                "injected": fraction,
                "measured": slowed[FIGURE] / base - 1,
                "detected_at_3pct": _slower([{FIGURE: base}], [slowed], 0.03),
                "detected_at_1pct": _slower([{FIGURE: base}], [slowed], 0.01),
            }
        )
    return {
        "reruns": reruns,
        "figures": len(runs[0]),
        "false_alarms_at_3pct": _false_alarms(runs, 0.03),
        "false_alarms_at_1pct": _false_alarms(runs, 0.01),
        "worst_spread": max(spread.values()),
        "worst_spread_figure": max(spread, key=spread.get),
        "per_op": base,
        "steps": steps,
    }


def _ab(loops: int) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """Interleaved base, head, base, head; the head with ``loops`` injected."""
    base, head = [], []
    for _ in range(2):
        base.append(clock(ROOT, "quick", 20, 5, [FIGURE]).per_op)
        head.append(clock(ROOT, "quick", 20, 5, [FIGURE], inject_loops=loops).per_op)
    return base, head


def time_gate(reruns: int, log: Callable[[str], None]) -> dict[str, Any]:
    alarms = 0
    for i in range(reruns):
        log(f"time: unchanged A/B {i + 1}/{reruns}")
        base, head = _ab(0)
        changes = compare_per_op(base, head, 0.10)
        alarms += any(c.verdict is not Verdict.NOT_SIGNIFICANT for c in changes)
    calib = clock(ROOT, "quick", 20, 5, [FIGURE], calibrate=True).per_op
    per_loop_s, handshake_s = calib[LOOP_FIGURE] / 10_000, calib[FIGURE]
    steps = []
    for fraction in TIME_STEPS:
        log(f"time: +{fraction:.0%} injected")
        base, head = _ab(round(fraction * handshake_s / per_loop_s))
        steps.append(
            {
                "injected": fraction,
                "measured": min(h[FIGURE] for h in head) / min(b[FIGURE] for b in base) - 1,
                "detected_at_10pct": _slower(base, head, 0.10),
            }
        )
    return {"reruns": reruns, "false_alarms_at_10pct": alarms, "steps": steps}


def smallest(steps: list[dict[str, Any]], key: str) -> float | None:
    return next((s["injected"] for s in steps if s[key]), None)


def markdown(result: dict[str, Any]) -> str:
    ins, tim = result["instructions"], result["time"]

    def pct(v: float | None) -> str:
        return "none of those tried" if v is None else f"{v:.1%}"

    lines = [
        "# The regression gate's power (measured)",
        "",
        f"Machine: {result['machine']}. DTHQ psk handshake (ML-KEM-768), an empty loop "
        "injected into the initiator. Instruction gate: callgrind counts, one run per "
        "side. Time gate: same-runner A/B, base, head, base, head.",
        "",
        "| gate | threshold | smallest slowdown detected | false alarms (unchanged reruns) |",
        "|---|---|---|---|",
        f"| instructions | 3 % (default) | {pct(smallest(ins['steps'], 'detected_at_3pct'))} "
        f"| {ins['false_alarms_at_3pct']} of {ins['reruns'] - 1} ({ins['figures']} figures each) |",
        f"| instructions | 1 % | {pct(smallest(ins['steps'], 'detected_at_1pct'))} "
        f"| {ins['false_alarms_at_1pct']} of {ins['reruns'] - 1} |",
        f"| time (A/B) | 10 % (default) | {pct(smallest(tim['steps'], 'detected_at_10pct'))} "
        f"| {tim['false_alarms_at_10pct']} of {tim['reruns']} |",
        "",
        f"Instruction counts of unchanged code moved by at most {ins['worst_spread']:.2%} "
        f"between reruns (worst: {ins['worst_spread_figure']}); the handshake costs "
        f"{ins['per_op']:,.0f} instructions.",
        "",
        "| injected | instructions measured | caught at 3 % | caught at 1 % |",
        "|---|---|---|---|",
        *(
            f"| {s['injected']:.1%} | {s['measured']:+.2%} | {s['detected_at_3pct']} "
            f"| {s['detected_at_1pct']} |"
            for s in ins["steps"]
        ),
        "",
        "| injected | time measured | caught at 10 % |",
        "|---|---|---|",
        *(
            f"| {s['injected']:.0%} | {s['measured']:+.1%} | {s['detected_at_10pct']} |"
            for s in tim["steps"]
        ),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("reports/latest"))
    args = parser.parse_args(argv)
    start = time.perf_counter()

    def log(line: str) -> None:
        print(f"[{time.perf_counter() - start:6.0f} s] {line}", flush=True)

    result = {
        "machine": f"{platform.processor() or platform.machine()}, {platform.platform()}",
        "valgrind": instructions.valgrind_version(),
        "instructions": instruction_gate(args.reruns, log),
        "time": time_gate(args.reruns, log),
    }
    result["wall_s"] = round(time.perf_counter() - start)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gate-power.json").write_text(json.dumps(result, indent=1))
    (args.out / "gate-power.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
