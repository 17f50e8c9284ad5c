"""Run claims.pml per mode and scenario and turn what spin finds into claims.json's entries.

Each (mode, scenario) is compiled once. The exhaustive run (no assertion can fire: the
target claim is 255) tells which claim sites are unreachable: those claims hold within
the bounds. For each reachable one, the same binary runs again with TRAIL=<claim>, stops
at the first violation, and `spin -t` replays the trail: its MSC lines are the trace.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

MODES = {"psk": 1, "mldsa": 2, "kem-psk": 3, "kem": 4, "qkd": 5, "qkd+mlkem": 6}
QKD_MODES = ("qkd", "qkd+mlkem")
BUDGET = 4

# claim numbers in claims.pml: (property, role, term)
CLAIMS = {
    0: ("secrecy", "A", "session key"),
    1: ("secrecy", "A", "nA"),
    2: ("secrecy", "A", "nB"),
    4: ("alive", "A", None),
    5: ("weakagree", "A", None),
    6: ("niagree", "A", None),
    7: ("nisynch", "A", None),
    8: ("secrecy", "B", "session key"),
    9: ("secrecy", "B", "nA"),
    10: ("secrecy", "B", "nB"),
    12: ("alive", "B", None),
    13: ("weakagree", "B", None),
    14: ("niagree", "B", None),
    15: ("nisynch", "B", None),
}
INJECTIVE_B = 16
DONE = (17, 18)  # A and B can complete: the claims are not vacuous

# The paper's resistance claims, each stood for by model claims (all must hold).
RESISTANCE = {
    "mitm": (6, 14),  # niagree both ways: no substituted share, ciphertext or nonce
    "replay": (7, 15, INJECTIVE_B),  # nisynch both ways, one B completion per A run
    "impersonation": (4, 5, 12, 13),  # alive and weakagree both ways
    "tampering": (7, 15),  # every flight received exactly as it was sent
    "eavesdropping": (0, 8),  # the session key's secrecy at both ends
}
# KCI: the attacker holds one side's long-term keys and poses as the other to it.
KCI = {"A": ("KCI_A", 6), "B": ("KCI_B", 14)}

ATTACKER = (
    f"Dolev-Yao over the broker within {BUDGET} actions (deliver, replay, redirect, drop, "
    "tamper with a HELLO, build a HELLO, build a REPLY or FINISH whose tag he can make; "
    "forged flights carry his own nonce); he is a registered device M of B"
)
SESSIONS = "1 session of A (or none), 2 sessions of B"
HELD = {
    "KCI_A": "plus A's long-term keys (the PSK / A's ML-DSA key / A's static KEM key, "
    "whichever the mode has)",
    "KCI_B": "plus B's long-term keys (the PSK / B's ML-DSA key / B's static KEM key, "
    "whichever the mode has)",
}


def bounds(scenario: str) -> str:
    held = f"; {HELD[scenario]}" if scenario in HELD else ""
    return f"{SESSIONS}; attacker: {ATTACKER}{held}"


def build(work: Path, defines: list[str], budget: int) -> Path:
    """pan for these options in its own directory (the trail lands beside it)."""
    where = work / f"budget{budget}"
    where.mkdir()
    shutil.copy(work / "claims.pml", where / "claims.pml")
    # -o3: no statement merging, so each claim site is its own state in the report
    opts = [*defines, f"-DBUDGET={budget}"]
    subprocess.run(
        ["spin", "-o3", *opts, "-a", "claims.pml"], cwd=where, check=True, capture_output=True
    )
    subprocess.run(
        ["gcc", "-O1", "-DSAFETY", "-DCOLLAPSE", "-o", "pan", "pan.c"],
        cwd=where,
        check=True,
        capture_output=True,
    )
    return where


def pan(where: Path, trail: int | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TRAIL"}
    if trail is not None:
        env["TRAIL"] = str(trail)
    return subprocess.run(
        ["./pan", "-E", "-m10000"], cwd=where, capture_output=True, text=True, env=env
    ).stdout


def verify(model: Path, mode: str, scenario: str) -> dict[int, str | None]:
    """{claim number: None if it holds, else the trace} for one mode and scenario; prints
    the exhaustive run's states and time."""
    defines = [f"-DMODE={MODES[mode]}"] + ([f"-D{scenario}"] if scenario != "base" else [])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copy(model, work / "claims.pml")
        full = build(work, defines, BUDGET)
        start = time.perf_counter()
        out = pan(full)
        found = re.search(r"([\d.e+]+) states, stored", out)
        states = float(found.group(1)) if found else 0
        print(
            f"claims.pml      {mode:10} {scenario:6} {states:>12,.0f} states  "
            f"{time.perf_counter() - start:5.1f} s",
            flush=True,
        )
        if "errors: 0" not in out or "max search depth too small" in out:
            raise RuntimeError(f"{mode} {scenario}: the exhaustive run is incomplete:\n{out}")
        unreached = {int(n) for n in re.findall(r'"assert\(\((\d+)!=target\)\)"', out)}
        if unreached & set(DONE):
            raise RuntimeError(f"{mode} {scenario}: a party never completes: vacuous claims")
        wanted = (*CLAIMS, INJECTIVE_B) if scenario == "base" else (KCI[scenario[-1]][1],)
        # A trail from the smallest budget that shows the violation reads best.
        smaller: dict[int, Path] = {}
        results: dict[int, str | None] = {}
        for claim in wanted:
            if claim in unreached:
                results[claim] = None
                continue
            for budget in range(2, BUDGET + 1):
                if budget not in smaller:
                    smaller[budget] = full if budget == BUDGET else build(work, defines, budget)
                text = trace(smaller[budget], [*defines, f"-DBUDGET={budget}"], claim)
                if text is not None:
                    break
            else:
                raise RuntimeError(f"{mode} {scenario}: claim {claim} reachable, yet no trail")
            results[claim] = text
        return results


def trace(where: Path, defines: list[str], claim: int) -> str | None:
    (where / "claims.pml.trail").unlink(missing_ok=True)
    if "assertion violated" not in pan(where, claim):
        return None
    replay = subprocess.run(
        ["spin", "-t", *defines, "claims.pml"], cwd=where, capture_output=True, text=True
    ).stdout
    lines = [line.strip()[5:] for line in replay.splitlines() if line.strip().startswith("MSC: ")]
    return "\n".join(lines)


def entry(prop: str, role: str | None, term: str | None, mode: str, scenario: str, trail):
    slug = "-".join(p.replace(" ", "-") for p in (prop, term, role, mode) if p)
    return {
        "id": slug,
        "property": prop,
        "role": role,
        "term": term,
        "mode": mode,
        "outcome": "holds" if trail is None else "fails",
        "bounds": bounds(scenario),
        "trace": trail,
    }


def verify_all(here: Path) -> dict:
    model = here / "claims.pml"
    jobs = [(mode, scenario) for mode in MODES for scenario in ("base", *HELD)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        found = dict(zip(jobs, pool.map(lambda job: verify(model, *job), jobs), strict=True))
    entries = []
    for mode in MODES:
        base = found[mode, "base"]
        for claim, (prop, role, term) in CLAIMS.items():
            entries.append(entry(prop, role, term, mode, "base", base[claim]))
            if claim in (2, 10) and mode in QKD_MODES:  # after nB: Kq, which no flight carries
                entries.append(entry("secrecy", role, "Kq", mode, "base", None))
        for prop, stood_for in RESISTANCE.items():
            failing = [base[c] for c in stood_for if base[c] is not None]
            entries.append(entry(prop, None, None, mode, "base", failing[0] if failing else None))
        for role, (scenario, claim) in KCI.items():
            entries.append(entry("kci", role, None, mode, scenario, found[mode, scenario][claim]))
    return {
        "model": (
            "formal/claims.pml in spin, exhaustive within the bounds: A (device) and B "
            "(service) per mode, symbolic cryptography (a MAC or signature only from "
            f"whoever holds every key it needs); {SESSIONS}; attacker: {ATTACKER}. "
            "Kq's secrecy holds by construction (Q hands it to A and B only; it is on no "
            "flight). Q's own claims and Scyther's reqKey are not modelled (formal/README.md)."
        ),
        "claims": entries,
    }
