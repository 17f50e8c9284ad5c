"""Every reading a device generated, classified, after Jepsen's queue checker.

A device logs each reading it generates and, separately, the broker's acknowledgement of
its publish (QoS 1 PUBACK). The sinks' logs say what was delivered. Each generated
reading is then exactly one of:

- ``delivered``: delivered exactly once;
- ``duplicated``: delivered more than once (applied twice: a property violation);
- ``refused``: refused by the pipeline with a reason it counts as legitimate (an invalid
  reading from a faulty sensor), never delivered;
- ``lost``: acknowledged to the device, never delivered: a property violation, shown
  with the reason the pipeline gave for it if it gave one;
- ``unacknowledged``: never acknowledged to the device (its process was killed first,
  or the broker was away) and never delivered: the device knows it may be lost, so
  this is not a violation, but it is counted;

and a delivery of a reading no device generated is ``unexpected`` (forged data got
through: a violation). The property: no lost, no duplicated, no unexpected.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

Key = tuple[str, int]  # (patient, reading timestamp): a reading's identity everywhere


class Class(enum.Enum):
    DELIVERED = "delivered"
    DUPLICATED = "duplicated"
    REFUSED = "refused"
    LOST = "lost"
    UNACKNOWLEDGED = "unacknowledged"
    UNEXPECTED = "unexpected"


VIOLATIONS = frozenset({Class.DUPLICATED, Class.LOST, Class.UNEXPECTED})


@dataclass(frozen=True)
class Checked:
    counts: Mapping[Class, int]
    lost: Mapping[Key, str]  # each lost reading and why (or "no reason given")
    unexpected: tuple[Key, ...]
    duplicated: Mapping[Key, int]  # how many times each was delivered

    @property
    def ok(self) -> bool:
        return all(self.counts.get(c, 0) == 0 for c in VIOLATIONS)

    @property
    def generated(self) -> int:
        return sum(n for c, n in self.counts.items() if c is not Class.UNEXPECTED)

    def lost_by_reason(self) -> dict[str, int]:
        return dict(Counter(self.lost.values()))


@dataclass
class Log:
    """What the devices and the sinks recorded, in any order."""

    generated: set[Key] = field(default_factory=set)
    acknowledged: set[Key] = field(default_factory=set)
    deliveries: Counter[Key] = field(default_factory=Counter)
    refused: dict[Key, str] = field(default_factory=dict)  # legitimately, with the reason
    reasons: dict[Key, str] = field(default_factory=dict)  # why a reading went missing

    def deliver(self, keys: Iterable[Key]) -> None:
        self.deliveries.update(keys)

    def deliver_counts(self, counts: Mapping[Key, int]) -> None:
        """Each reading delivered this many times."""
        self.deliveries.update(counts)


def check(log: Log) -> Checked:
    counts: Counter[Class] = Counter()
    lost: dict[Key, str] = {}
    duplicated: dict[Key, int] = {}
    for key in log.generated:
        n = log.deliveries.get(key, 0)
        if n == 1:
            counts[Class.DELIVERED] += 1
        elif n > 1:
            counts[Class.DUPLICATED] += 1
            duplicated[key] = n
        elif key in log.refused:
            counts[Class.REFUSED] += 1
        elif key in log.acknowledged:
            counts[Class.LOST] += 1
            lost[key] = log.reasons.get(key, "no reason given")
        else:
            counts[Class.UNACKNOWLEDGED] += 1
    unexpected = tuple(sorted(k for k in log.deliveries if k not in log.generated))
    counts[Class.UNEXPECTED] = len(unexpected)
    return Checked(counts, lost, unexpected, duplicated)
