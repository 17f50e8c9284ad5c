"""What a forged HELLO costs B, with and without the stateless retry."""

from __future__ import annotations

from typing import Any

from dthq.harness.results import Results
from reports.render.text import spread
from reports.section import Section, Table, noted

FORGED_HELLO_HEADERS = [
    "Auth",
    "Retry policy",
    "B's CPU per forged HELLO us",
    "HELLO B",
    "B's answer B",
    "Amplification",
]


def forged_hello_rows(results: Results) -> list[list[Any]]:
    return [
        [
            f.auth,
            f.retry,
            spread(f.cpu_us),
            f.hello_bytes,
            f.response_bytes,
            f"{f.amplification:.2f}x",
        ]
        for f in results.forged_hello
    ]


FORGED_HELLO_NOTE = (
    "A genuine HELLO replayed to B (the worst case: it passes every check). Without the "
    "retry cookie B encapsulates (and signs, in mldsa mode) and answers with a full REPLY; "
    "with it, B computes one HMAC, keeps no state and answers with a small RETRY. "
    "Amplification = bytes B sends / bytes it received (QUIC allows at most 3x before the "
    "peer's address is validated)."
)


def section(results: Results) -> Section:
    table = Table(FORGED_HELLO_HEADERS, forged_hello_rows(results))
    heading = "What a forged HELLO costs B (the stateless retry)"
    body = noted(table, FORGED_HELLO_NOTE)
    return Section("What a forged HELLO costs B", body, "forged-hello.md", heading=heading)
