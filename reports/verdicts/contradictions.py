"""Where the paper contradicts itself: each inconsistency with both locations and why
the two cannot both hold, checked first against the paper's own definitions; and the
patterns those definitions explain, which are not contradictions."""

from __future__ import annotations

from dataclasses import dataclass

from dthq.harness.results import Results
from reports.section import Heading, Section, Table, Text
from reports.verdicts.judge import ClaimSpec, Kind, fixed
from reports.verdicts.outcome import Outcome


@dataclass(frozen=True)
class Inconsistency:
    id: str
    where: str  # both locations
    first: str  # location: what it says
    second: str
    why: str  # why both cannot hold, after the paper's definitions are applied


FOUND = (
    Inconsistency(
        "dthq-cost-three-ways",
        "Table 3 vs Table 4 vs Table 5 (DTHQ's cost)",
        "Table 3: DTHQ comp. overhead 4.1 ms",
        "Table 4: CC 12-52 ms; Table 5: 7-10 ms",
        "All three are DTHQ's cryptographic processing time (key establishment and AEAD, "
        "§6.4; Eq. 9) on one i7-9700K, yet the three ranges are disjoint (4.1 < 7-10 < 12) "
        "and Table 4's smallest case (KL 128, small reading) is no larger than Table 3's "
        "telemetry message. §6.4 amortises only latency, so amortisation cannot explain it.",
    ),
    Inconsistency(
        "edge-latency",
        "§6.4 text vs Table 4 (latency by edge)",
        '§6.4 text: "far-edge deployments had greater latency"',
        "Table 4 AL: far edge 1.2, 1.3, 2.5 ms against near edge 4.2, 5.1, 8.4 ms",
        "The same metric (AL: compress, encrypt and transfer) on the same pairs is lower at "
        "the far edge in every row.",
    ),
    Inconsistency(
        "edge-throughput",
        "§6.4 text vs Table 4 (throughput by edge)",
        '§6.4 text: "near-edge deployments had better performance in terms of throughput"',
        "Table 4, KL 512, large: near edge 847.314 against far edge 1597.010 msg/s",
        "In one of Table 4's three pairs the far edge has the higher throughput.",
    ),
    Inconsistency(
        "s72-computational-best",
        "§7.2 vs Tables 5 and 6",
        '§7.2: DTHQ "proved to work the best in terms of computational and communication '
        'costs. These performance metrics are detailed in Tables 5 and 6"',
        "Table 5: [49] 0.88-51.51 ms against DTHQ 7-10 ms; Tables 5 and 6 give no "
        "communication cost",
        "By Table 5's own figures [49]'s cost reaches below DTHQ's, so DTHQ is not the "
        "lowest; and the tables cited for communication cost contain none.",
    ),
    Inconsistency(
        "baseline-throughput-same-aead",
        "§6.4 vs Table 3 (baseline throughputs)",
        "§6.4: throughput is messages per second after session establishment; RSA-2048 and "
        "ECC-256 are followed by AES-GCM, TLS uses AES-GCM",
        "Table 3: RSA-2048 120, ECC-256 480, TLS 950 msg/s",
        "After establishment the three run the same AEAD on the same message format and "
        "payload size in the same environment (§6.4), so their throughputs should agree; "
        "they differ 7.9-fold (950 / 120). The key exchange is outside the figure by its "
        "definition.",
    ),
    Inconsistency(
        "table3-dthq-mixes-edges",
        "§6.4 vs Table 3 vs Table 4 (DTHQ's row)",
        '§6.4: every scheme of Table 3 measured "under the same near-edge execution environment"',
        "Table 3's DTHQ latency 1.2 ms and throughput 3880 msg/s are Table 4's KL 128 far-edge "
        "AL (1.2) and near-edge throughput (3880.330)",
        "The near-edge KL 128 row has AL 4.2 ms; Table 3's DTHQ row takes its latency from the "
        "far edge and its throughput from the near edge, not from one environment.",
    ),
    Inconsistency(
        "ecc-in-a-quantum-safe-protocol",
        "§7.2 and Eq. 9 vs §4.1-4.3",
        '§7.2: DTHQ\'s structure "uses elliptic curve cryptography (ECC)"; Eq. 9 and '
        "Table 5: 2 T_ECC",
        '§4.1: ECC is "expected to become insecure due to Shor\'s algorithm"; §4.2, §4.3, '
        "Algorithm 2: the session key comes from QKD or ML-KEM",
        "If the session key rests on EC point multiplications it is not quantum-safe by "
        "§4.1; if it comes from ML-KEM or QKD, Eq. 9 and §7.2 count operations the protocol "
        "does not perform.",
    ),
)
EXPLAINED = (
    ("Table 3: DTHQ comp. overhead 4.1 ms above its latency 1.2 ms",
     "§6.4 amortises key establishment per session in latency, while the overhead counts "
     "it whole: the overhead exceeds the latency whenever a session carries several "
     "messages."),
    ("Table 4: CC 12-52 ms above AL 1.2-8.4 ms",
     "CC includes key establishment (§6.4: key establishment and AEAD); AL (compress, "
     "encrypt, transfer) does not."),
    ("Table 2: real-time processing latency 100-500 ms; Table 6 and §8: DTHQ 1-10 ms",
     "Different quantities: Table 2's is processing and delivering results, Table 6's the "
     "protocol's latency."),
    ("Table 4, KL 128 near edge: 3880.330 msg/s above 1 / AL (4.2 ms: 238 msg/s)",
     "Possible only with about 16 messages in flight, which the paper does not describe; "
     "throughput after establishment need not be 1 / latency: not provably a contradiction."),
    ("Abstract and §8: 25.77 %; Table 5: 13.476 and 7-10 ms",
     "Not stated how it is computed; (13.476 - 10) / 13.476 gives 25.79 %, close but not "
     "equal. Judged once, as the claim improvement-25.77."),
)  # fmt: skip


def _spec(i: Inconsistency) -> ClaimSpec:
    return ClaimSpec(
        f"inconsistent-{i.id}", i.where,
        Kind.INCONSISTENT, f"{i.first}; against {i.second}", "-",
        "both cannot hold under the paper's own definitions",
        fixed(Outcome.INCONSISTENT_IN_PAPER, f": {i.why}"),
    )  # fmt: skip


CLAIMS: tuple[ClaimSpec, ...] = tuple(_spec(i) for i in FOUND)


def section(_: Results) -> Section:
    return Section(
        "Contradictions within the paper",
        [
            Table(
                ["Id", "Where", "It says", "It also says", "Why both cannot hold"],
                [[i.id, i.where, i.first, i.second, i.why] for i in FOUND],
            ),
            Heading("Checked against the paper's definitions: not contradictions, or not provably"),
            Table(["Pattern", "What explains it"], [list(e) for e in EXPLAINED]),
            Text(["Each contradiction is also a row of kind 'inconsistent in the paper' in "
                  "paper-comparison.md, counted apart from the claims."]),
        ],
        file="contradictions.md",
    )  # fmt: skip
