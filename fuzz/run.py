"""Coverage-guided fuzzing of every parser with atheris (libFuzzer), bounded in time.

    python fuzz/run.py --seconds 20            # every target, 20 s each
    python fuzz/run.py --seconds 60 record     # one target

Each target runs in its own process from a corpus of real seeds (fuzz/corpus/<target>,
made fresh). A crash (an exception that is not a DTHQError, or a hang) is saved under
fuzz/crashes/ and fails the run: turn it into a regression test in tests/.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

CHILD = """
import sys
import atheris
with atheris.instrument_imports():
    from fuzz.targets import TARGETS, guarded
atheris.Setup(sys.argv, guarded(TARGETS[{name!r}]))
atheris.Fuzz()
"""


def fuzz(name: str, seconds: int) -> tuple[bool, str]:
    from fuzz.targets import seeds

    corpus = HERE / "corpus" / name
    corpus.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(seeds(name)):
        (corpus / f"seed-{i}").write_bytes(seed)
    crashes = HERE / "crashes"
    crashes.mkdir(exist_ok=True)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD.format(name=name),
            f"-max_total_time={seconds}",
            "-timeout=10",
            "-rss_limit_mb=2048",
            "-print_final_stats=1",
            f"-artifact_prefix={crashes}/{name}-",
            str(corpus),
        ],
        cwd=HERE.parent,
        capture_output=True,
        text=True,
    )
    out = proc.stdout + proc.stderr
    runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", out)
    cov = re.findall(r"cov: (\d+)", out)
    summary = (
        f"{int(runs.group(1)) if runs else 0:>10,} executions, coverage {cov[-1] if cov else '?'}"
    )
    if proc.returncode != 0:
        tail = "\n".join(out.splitlines()[-25:])
        return False, f"{summary}\n{tail}"
    return True, summary


def main() -> int:
    from fuzz.targets import TARGETS

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=20, help="time per target (default 20)")
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=f"of {', '.join(TARGETS)}")
    args = parser.parse_args()
    unknown = sorted(set(args.targets) - set(TARGETS))
    if unknown:
        parser.error(f"unknown target {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    failed = 0
    for name in args.targets or list(TARGETS):
        ok, summary = fuzz(name, args.seconds)
        failed += not ok
        print(f"{name:8} {'ok' if ok else 'CRASH'}  {summary}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
