"""Run the spin models and hold each run to what it must show.

    python formal/check.py                  # what `nox -s formal` runs
    python formal/check.py --write-claims   # rewrite formal/claims.json from the runs

Each check compiles a model (spin -a, then gcc) with some -D options and runs the
verifier. Claims that must hold must end with 0 errors; the weakened variants (a
compromised PSK, the version-1 receiver, ...) must end with an error, which shows the
model can see the attack. Prints states, depth, memory and time per run; exit 1 if
any expectation fails.

Then claims.pml, the paper's Scyther claims, once per mode and scenario (formal/claims.py
says which claims and what each outcome means): the outcomes go to formal/claims.json, and
the run fails if the committed file differs from what spin found.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import claims

HERE = Path(__file__).resolve().parent
# (model, -D options, must the claims hold?, what the run shows)
CHECKS = [
    ("handshake.pml", [], True, "agreement, injective agreement, no downgrade (active attacker)"),
    ("handshake.pml", ["-DCOMPROMISED"], False, "with the PSK known, a MITM breaks agreement"),
    ("handshake.pml", ["-DREACH"], False, "the honest run completes (claims not vacuous)"),
    ("epochs.pml", [], True, "no genuine record lost to the epoch logic; no deadlock"),
    ("epochs.pml", ["-DLOOKAHEAD=1", "-DGRACE=0"], False, "the version-1 receiver loses records"),
    ("epochs.pml", ["-DGRACE=2"], False, "a grace shorter than the reordering loses records"),
    ("epochs.pml", ["-DLOOKAHEAD=3"], False, "a look-ahead too short for the loss loses records"),
    # claims.pml's own run is below (claims.json); these show it sees a broken mode
    ("claims.pml", ["-DMODE=2", "-DTARGET=6"], True, "mldsa: A's niagree (as claims.json)"),
    (
        "claims.pml",
        ["-DMODE=2", "-DUNSIGNED_REPLY", "-DTARGET=6"],
        False,
        "mldsa with B's signature unchecked: A's niagree falls",
    ),
]


def run(model: str, defines: list[str], work: Path) -> dict[str, str]:
    subprocess.run(
        ["spin", *defines, "-a", str(HERE / model)], cwd=work, check=True, capture_output=True
    )
    subprocess.run(
        ["gcc", "-O2", "-DSAFETY", "-DCOLLAPSE", "-o", "pan", "pan.c"],
        cwd=work,
        check=True,
        capture_output=True,
    )
    start = time.perf_counter()
    # claims.pml's attacker may stall on a full inbox: not a deadlock of the protocol
    flags = ["-E"] if model == "claims.pml" else []
    out = subprocess.run(["./pan", *flags], cwd=work, capture_output=True, text=True).stdout
    elapsed = time.perf_counter() - start
    found = {
        "errors": re.search(r"errors: (\d+)", out),
        "states": re.search(r"([\d.e+]+) states, stored", out),
        "depth": re.search(r"depth reached (\d+)", out),
        "memory": re.search(r"([\d.]+)\s+total actual memory usage", out),
    }
    if found["errors"] is None:
        raise RuntimeError(f"{model} {defines}: no verdict from pan:\n{out[-2000:]}")
    result = {k: (m.group(1) if m else "?") for k, m in found.items()}
    result["seconds"] = f"{elapsed:.1f}"
    return result


def run_checks() -> int:
    failures = 0
    for model, defines, must_hold, what in CHECKS:
        with tempfile.TemporaryDirectory() as tmp:
            r = run(model, defines, Path(tmp))
        held = r["errors"] == "0"
        ok = held == must_hold
        failures += not ok
        verdict = ("holds" if held else "violated") + ("" if ok else "  <-- UNEXPECTED")
        print(
            f"{model:15} {' '.join(defines) or '(as built)':28} {verdict:10} "
            f"{float(r['states']):>12,.0f} states  depth {r['depth']:>4}  "
            f"{r['memory']:>8} MB  {r['seconds']:>5} s   {what}"
        )
    print(f"{len(CHECKS) - failures} of {len(CHECKS)} checks as expected")
    return failures


def main(argv: list[str]) -> int:
    if shutil.which("spin") is None:
        print("spin is not installed (Debian package `spin`)", file=sys.stderr)
        return 2
    write = "--write-claims" in argv
    failures = run_checks()
    start = time.perf_counter()
    found = claims.verify_all(HERE)
    print(f"claims.pml: {len(found['claims'])} claims in {time.perf_counter() - start:.0f} s")
    text = json.dumps(found, indent=1) + "\n"
    target = HERE / "claims.json"
    if write:
        target.write_text(text)
        print(f"wrote {target.name}")
    elif not target.exists() or target.read_text() != text:
        print(f"{target.name} differs from what the models give: --write-claims", file=sys.stderr)
        failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
