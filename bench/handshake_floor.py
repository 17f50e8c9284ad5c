"""The psk handshake against the primitives its floor counts, measured side by side.

    python bench/handshake_floor.py [--tree DIR ...] [--rounds 200] [--icount]

For each ``--tree`` (default: this checkout), a child process imports that tree and
times, round by round in rotating order, one ``dthq-mlkem768-psk`` handshake (the
Table 3 scheme's ``establish``, record layers included) and each primitive of
reports/verdicts/targets.py ``_handshake_floor``: ML-KEM-768 keygen, encaps, decaps
(default backend) and HKDF-SHA256 of 64 bytes (counted twice). Children of several
trees run alternately, so a before/after pair shares the machine's load. The ratio is
the handshake's median over the sum of the primitives' medians, as the target takes it.

With ``--icount`` each child runs under callgrind instead (marker dumps as
bench/icount_driver.py does): instructions per call, (I(2N) - I(N)) / N.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROW = "dthq-mlkem768-psk"
FLOOR = {"keygen": 1, "encaps": 1, "decaps": 1, "hkdf64": 2}  # op: times the floor counts it
TOTALS = re.compile(rb"^totals: (\d+)", re.MULTILINE)


def _ops(row_key: str, kem_backend: str | None) -> dict[str, Callable[[], Any]]:
    from bench.provision import scheme
    from dthq.crypto.hkdf import hkdf
    from dthq.crypto.kem import get_kem
    from dthq.harness.scenarios import OPTIONAL_BACKEND_ROWS, TABLE3

    rows = [*TABLE3, *OPTIONAL_BACKEND_ROWS.values()]
    row = next(r for r in rows if r.key == row_key)
    s = scheme(row.scheme, **row.scheme_options(compress=True))
    kem = get_kem("ML-KEM-768", kem_backend)
    dk, ek = kem.generate()
    ct, _ = kem.encapsulate(ek)
    ikm = os.urandom(32)
    return {
        "handshake": lambda: s.establish(0),
        "keygen": kem.generate,
        "encaps": lambda: kem.encapsulate(ek),
        "decaps": lambda: dk.decapsulate(ct),
        "hkdf64": lambda: hkdf("sha256", ikm, b"salt", b"info", 64),
    }


def _child(args: argparse.Namespace) -> int:
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [str(Path(args.tree[0]).resolve())] + [p for p in sys.path if p != here]
    ops = _ops(args.row, args.kem_backend)
    import dthq

    print(f"dthq from {Path(dthq.__file__).parent}", file=sys.stderr)
    for op in ops.values():  # warm: lazy imports, caches
        for _ in range(20):
            op()
    if args.icount:
        gc.disable()  # as the timed benchmarks run
        mark = os.getppid  # callgrind dumps before each call (--dump-before=getppid)
        subprocess.run(
            ["callgrind_control", "-i", "on", str(os.getpid())], check=True, capture_output=True
        )
        mark()
        for op in ops.values():
            mark()
            for _ in range(args.n):
                op()
            mark()
            for _ in range(2 * args.n):
                op()
        mark()
        json.dump({"ops": list(ops)}, sys.stdout)
        return 0
    gc.disable()  # as the benchmark harness runs (--benchmark-disable-gc)
    names = list(ops)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(args.rounds):
        for name in names[i % len(names) :] + names[: i % len(names)]:  # rotate the order
            op, k = ops[name], args.batch
            t0 = time.perf_counter()
            for _ in range(k):
                op()
            samples[name].append((time.perf_counter() - t0) / k * 1e6)
    json.dump(samples, sys.stdout)
    return 0


def _floor(per_op: dict[str, float]) -> float:
    return sum(per_op[op] * times for op, times in FLOOR.items())


def _timed(trees: list[str], args: argparse.Namespace) -> None:
    samples: dict[str, dict[str, list[float]]] = {t: {} for t in trees}
    for _ in range(args.alternations):
        for tree in trees:  # alternate the trees, so each sees the same load
            got = json.loads(_run(tree, args, []))
            for name, values in got.items():
                samples[tree].setdefault(name, []).extend(values)
    for tree in trees:
        # medians, as the target takes them; the fastest rounds too, which a loaded
        # machine's preemptions (landing more often in the longer handshake) disturb less
        for what, stat in (("median", statistics.median), ("fastest", min)):
            got = {name: stat(v) for name, v in samples[tree].items()}
            floor = _floor(got)
            line = ", ".join(f"{name} {value:.1f}" for name, value in got.items())
            ratio = got["handshake"] / floor
            print(f"{tree} ({what}): {line} us; floor {floor:.1f} us; ratio {ratio:.3f}x")


def _counted(trees: list[str], args: argparse.Namespace) -> None:
    for tree in trees:
        with tempfile.TemporaryDirectory(prefix="dthq-hsfloor-") as tmp:
            out = Path(tmp) / "cg.out"
            prefix = [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                "--dump-before=getppid",
                "--dump-instr=no",
                "--dump-line=no",
                f"--callgrind-out-file={out}",
            ]
            names = json.loads(_run(tree, args, prefix))["ops"]
            dumps = sorted(Path(tmp).glob("cg.out.*"), key=lambda p: int(p.suffix[1:]))
            totals = [int(TOTALS.search(p.read_bytes()).group(1)) for p in dumps]  # type: ignore[union-attr]
        # dumps: the start, an empty one, then per op its N calls and its 2N calls (closed
        # by the next op's marker): (I(2N) - I(N)) / N leaves the markers out
        per_op = {
            name: (totals[3 + 2 * i] - totals[2 + 2 * i]) / args.n for i, name in enumerate(names)
        }
        floor = _floor(per_op)
        line = ", ".join(f"{name} {value / 1e3:.1f}" for name, value in per_op.items())
        print(
            f"{tree}: {line} kinstr; floor {floor / 1e3:.1f} kinstr; "
            f"ratio {per_op['handshake'] / floor:.3f}x"
        )


def _run(tree: str, args: argparse.Namespace, prefix: list[str]) -> str:
    cmd = [*prefix, sys.executable, __file__, "--child", "--tree", tree]
    cmd += ["--rounds", str(args.rounds), "--batch", str(args.batch), "--n", str(args.n)]
    cmd += ["--icount"] if args.icount else []
    cmd += ["--kem-backend", args.kem_backend] if args.kem_backend else []
    cmd += ["--row", args.row]
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("PYTHONPATH", None)  # the child puts its tree first itself
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if args.verbose:
        print(proc.stderr.strip(), file=sys.stderr)
    if proc.returncode != 0:
        sys.exit(f"{tree}: child failed: {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", default=[])
    parser.add_argument("--rounds", type=int, default=200, help="rounds per child")
    parser.add_argument("--batch", type=int, default=5, help="calls per timed block")
    parser.add_argument("--alternations", type=int, default=3, help="children per tree")
    parser.add_argument("--n", type=int, default=20, help="calls per callgrind marker block")
    parser.add_argument("--icount", action="store_true")
    parser.add_argument("--kem-backend", default=None, help="the primitives' KEM backend")
    parser.add_argument("--row", default=ROW, help="the Table 3 row whose handshake is timed")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    trees = args.tree or [str(Path(__file__).resolve().parents[1])]
    if args.icount and shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed: --icount needs it")
    (_counted if args.icount else _timed)(trees, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
