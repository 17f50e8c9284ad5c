"""The paper's §5 security claims as register rows: the 24 Scyther claims of its Figure 2
and the six attacks of §5.2-5.3, each judged from the formal model's claims per mode."""

from __future__ import annotations

from collections.abc import Iterable

from dthq.harness.results import Results
from reports.verdicts import formal_claims
from reports.verdicts.formal_claims import FormalClaim
from reports.verdicts.judge import ClaimSpec, Judge, Kind, Measure, Measured
from reports.verdicts.outcome import Outcome

# The modes the benchmarked "Proposed DTHQ" runs in: ML-KEM-768 with PSK authentication
# (Table 3 and Table 4) and the simulated QKD and QKD+ML-KEM session keys (Table 4), all
# PSK-authenticated. A claim of the paper holds when it holds in every one of them.
BENCHMARKED_MODES = ("psk", "qkd", "qkd+mlkem")
DEFINITION = (
    "holds when the formal model (formal/claims.json) proves it in every mode the "
    f"benchmarked DTHQ runs in ({', '.join(BENCHMARKED_MODES)}); the other modes are shown"
)
# Figure 2's claims per role, in its order; secKeyA is the session key.
FIGURE2 = {
    "A": ("session key", "nB", "nA", "reqKey", "Kq", "alive", "weakagree", "niagree", "nisynch"),
    "B": ("nB", "Kq", "nA", "alive", "weakagree", "niagree", "nisynch"),
    "Q": ("session key", "Kq", "nA", "reqKey", "alive", "weakagree", "niagree", "nisynch"),
}
SCYTHER_NAMES = {"session key": "Secret secKeyA", "reqKey": "Secret reqKey"}
AGREEMENT = ("alive", "weakagree", "niagree", "nisynch")
ATTACKS = {
    "mitm": ("man-in-the-middle", "§5.2; §5.3; §8",
             "§5.1 Authentication (mutual, nonce-based) is the same property"),
    "replay": ("replay", "§5.1 Replay Protection; §5.2; §5.3",
               "§5.1's Replay Protection and §5.2's 'no ... replay' are one claim"),
    "impersonation": ("impersonation", "§5.2; §5.3", ""),
    "kci": ("key compromise impersonation", "§5.3", ""),
    "tampering": ("data tampering", "§5.2 Message Integrity; §5.3",
                  "§5.2's Message Integrity is resistance to tampering"),
    "eavesdropping": ("passive eavesdropping", "§5.1 Confidentiality; §5.3",
                      "§5.1's Confidentiality is resistance to eavesdropping"),
}  # fmt: skip


TRACE_SHOWN = 120  # characters of a counterexample the register shows in full


def _matching(prop: str, role: str | None, term: str | None) -> list[FormalClaim]:
    found = formal_claims.load()
    if found is None:
        return []
    return [c for c in found.claims if c.property == prop and c.term == term
            and (c.role is None or role is None or c.role == role)]  # fmt: skip


def _modes(claims: list[FormalClaim]) -> str:
    """Each mode's outcome, then the bounds once when every mode shares them."""
    outcomes = ", ".join(f"{c.mode} {'holds' if c.holds else 'fails'}" for c in claims)
    bounds = {c.bounds for c in claims}
    if len(bounds) == 1:
        return f"{outcomes} (bounds: {bounds.pop()})"
    return "; ".join(f"{c.mode} {'holds' if c.holds else 'fails'} ({c.bounds})" for c in claims)


def _unique(modes: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(modes))


def _trace(claim: FormalClaim) -> str:
    """A short counterexample in full; a long one by where it is kept."""
    if claim.trace and len(claim.trace) <= TRACE_SHOWN:
        return claim.trace
    return f"trace {claim.id} in formal/claims.json" if claim.trace else "no trace given"


def _security(prop: str, role: str | None, term: str | None) -> tuple[Measure, Judge]:
    def measure(_: Results) -> Measured:
        return Measured(_modes(_matching(prop, role, term)) or "-")

    def judge(_: Measured) -> tuple[Outcome, str]:
        if formal_claims.load() is None:
            return Outcome.NOT_TESTABLE_HERE, ": formal/claims.json is absent (no formal/ here)"
        checked = _matching(prop, role, term)
        if not checked:
            return Outcome.NOT_TESTABLE_HERE, ": the formal model has no such claim"
        ours = [c for c in checked if c.mode in BENCHMARKED_MODES]
        if not ours:
            return Outcome.NOT_TESTABLE_HERE, ": the formal model checks it in no benchmarked mode"
        failing = [c for c in ours if not c.holds]
        if term in NONCES:
            return Outcome.NOT_TESTABLE_HERE, (
                ": the paper gives no message flow to check; this protocol sends nA and nB in "
                "clear by design (its model: fails), so that verdict is ours, not the paper's"
            )
        if not failing:
            if term == "Kq":
                return Outcome.HOLDS, KQ_BY_CONSTRUCTION
            return Outcome.HOLDS, f" in the model ({', '.join(_unique(c.mode for c in ours))})"
        traces = "; ".join(f"{c.mode}: {_trace(c)}" for c in failing)
        traces = "; ".join(f"{c.id}: {_trace(c)}" for c in failing)
        return (
            Outcome.DOES_NOT_HOLD,
            f" in {', '.join(_unique(c.mode for c in failing))} ({traces})",
        )

    return measure, judge


def _scyther(role: str, item: str, n: int) -> ClaimSpec:
    is_agreement = item in AGREEMENT
    prop, term = (item, None) if is_agreement else ("secrecy", item)
    name = item.capitalize() if is_agreement else SCYTHER_NAMES.get(item, f"Secret {item}")
    measure, judge = _security(prop, role, term)
    return ClaimSpec(
        f"scyther-{role}{n}",
        f"§5.2 Figure 2, DTHQ,{role}{n}",
        Kind.SECURITY,
        f'"{name}" for role {role}: "ok, Verified, No attacks."',
        "Verified (Scyther)",
        DEFINITION,
        judge,
        measure,
        merged=_merged_into(role, item, n),
    )


# Attacks the model stands for by a Scyther property are that property's row, merged (the
# row named here takes the attack's words); replay and KCI add something, so they stay.
AS_SCYTHER = {
    "mitm": ("A", "niagree"),
    "impersonation": ("A", "alive"),
    "tampering": ("A", "nisynch"),
    "eavesdropping": ("A", "session key"),
}
# Figure 2 claims the nonces secret, but the paper gives no message flow; this protocol
# sends nA and nB in clear by design, so the model's "fails" judges ours, not the paper's.
NONCES = ("nA", "nB")
KQ_BY_CONSTRUCTION = (
    " by construction: Kq travels on no flight (it reaches A and B from Q alone), so the "
    "model's check cannot fail"
)


def _merged_into(role: str, item: str, n: int) -> str:
    notes = [
        f"§5.2-5.3's resistance to {ATTACKS[key][0]} is this property in the model"
        for key, at in AS_SCYTHER.items()
        if at == (role, item)
    ]
    if (role, n) == ("A", 2):
        notes.insert(
            0, "§5.2's Secrecy and Alive bullets and §8's Scyther sentence summarise these rows"
        )
    return "; ".join(notes)


def _attack(key: str) -> ClaimSpec:
    name, where, merged = ATTACKS[key]
    measure, judge = _security(key, None, None)
    return ClaimSpec(
        f"attack-{key}", where, Kind.SECURITY,
        f'"the security analysis considered the following attacks: ... {name}" '
        '("The symbolic model proved resistance to such attacks")',
        "resists", DEFINITION, judge, measure, merged,
    )  # fmt: skip


CLAIMS: tuple[ClaimSpec, ...] = (
    *(_scyther(role, item, n) for role, items in FIGURE2.items()
      for n, item in enumerate(items, start=2)),
    *(_attack(key) for key in ATTACKS if key not in AS_SCYTHER),
)  # fmt: skip
