"""End-to-end delivery: what each hop keeps until the next says it is settled, sans-I/O.

A broker's acknowledgement is not enough: a broker killed with SIGKILL (or amqtt, which
keeps nothing for a session that drops) loses what it acknowledged. So the DTHQ
sessions carry their own receipts, sealed like any record (a forged one opens under
no session, so no one can make a party forget a reading):

- the cloud, once the store has committed a batch (its readings, their FHIR Bundle in
  the outbox, the session's state), answers the gateway ``{"settled": N}`` for batch N;
- the gateway then tells each device which of its readings are settled,
  ``{"settled": [ts, ...]}`` (refused readings too: they will never be delivered, and
  must not be sent again), coalesced over a quarter of a second (the gateway's
  ``RECEIPT_TICKS``);
- the device keeps each reading (:class:`Unsettled`) until it is settled, sends it
  again under its session when no receipt came in ``RESEND_AFTER_MS`` (doubling), and
  asks for a new handshake when nothing at all was settled for ``SUSPECT_AFTER_MS``
  (the gateway may have lost its session and its NO_SESSION with it).

A reading sent again is the same reading (same patient and timestamp); the store and
the twin keep one per (patient, timestamp), so a resend is at most a redelivery, never
a duplicate. The gateway keeps no state a restart could lose: whatever it held, the
devices still hold.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

RESEND_AFTER_MS = 10_000  # no receipt this long after sending: send again (then doubling)
RESEND_CAP_MS = 60_000
SUSPECT_AFTER_MS = 20_000  # nothing settled this long with readings waiting: handshake again
MAX_UNSETTLED = 4096  # readings a device keeps for resending (over an hour at 1 Hz)
MAX_UNSETTLED_BYTES = 256 << 20  # and their bytes (one §7.1 100 MB reading fits)
MAX_RESEND_BATCH = 64  # readings sent again per poll, so a recovery is not a burst
MAX_BATCHES = 4096  # batches a gateway remembers until the cloud settles them


@dataclass
class _Kept:
    payload: bytes
    due_ms: int  # when to send it again if no receipt has come
    wait_ms: int  # the interval that set ``due_ms``


class Unsettled:
    """A device's readings not yet settled, oldest first, by timestamp."""

    def __init__(self, max_readings: int = MAX_UNSETTLED, max_bytes: int = MAX_UNSETTLED_BYTES):
        self._kept: OrderedDict[int, _Kept] = OrderedDict()
        self._bytes = 0
        self._max, self._max_bytes = max_readings, max_bytes
        self.dropped = 0  # readings pushed out by the bounds: sent once, never resent
        self.resent = 0
        self.last_settled_ms: int | None = None

    def __len__(self) -> int:
        return len(self._kept)

    def __contains__(self, ts: object) -> bool:
        return ts in self._kept

    def keep(self, ts: int, payload: bytes, now_ms: int) -> None:
        if ts in self._kept:
            return
        self._kept[ts] = _Kept(payload, now_ms + RESEND_AFTER_MS, RESEND_AFTER_MS)
        self._bytes += len(payload)
        if self.last_settled_ms is None:
            self.last_settled_ms = now_ms  # the receipts' clock starts with the first reading
        while len(self._kept) > self._max or (self._bytes > self._max_bytes and self._kept):
            _, old = self._kept.popitem(last=False)
            self._bytes -= len(old.payload)
            self.dropped += 1

    def settle(self, stamps: list[int], now_ms: int) -> list[int]:
        """Forget the settled readings; the ones it was still keeping."""
        settled = []
        for ts in stamps:
            kept = self._kept.pop(ts, None)
            if kept is not None:
                self._bytes -= len(kept.payload)
                settled.append(ts)
        if settled:
            self.last_settled_ms = now_ms
        return settled

    def due(self, now_ms: int, *, all_now: bool = False) -> list[tuple[int, bytes]]:
        """Readings to send again now (at most MAX_RESEND_BATCH, oldest first); each one's
        next wait doubles. ``all_now``: every reading is due now, whatever its time (a
        new session); those past this batch go in the next polls."""
        out = []
        for ts, kept in self._kept.items():
            if all_now:
                kept.due_ms = min(kept.due_ms, now_ms)
            elif kept.due_ms > now_ms:
                continue
            if len(out) >= MAX_RESEND_BATCH:
                if all_now:
                    continue
                break
            kept.wait_ms = min(RESEND_CAP_MS, 2 * kept.wait_ms)
            kept.due_ms = now_ms + kept.wait_ms
            out.append((ts, kept.payload))
        self.resent += len(out)
        return out

    def suspect(self, now_ms: int) -> bool:
        """Readings are waiting and nothing was settled for SUSPECT_AFTER_MS."""
        last = self.last_settled_ms
        return bool(self._kept) and last is not None and now_ms - last >= SUSPECT_AFTER_MS


class Receipts:
    """The gateway's side: which device readings each batch carried, and the receipts
    owed to each device once the cloud settles them (or the gateway refused them)."""

    def __init__(self, max_batches: int = MAX_BATCHES) -> None:
        self._batches: OrderedDict[int, list[tuple[str, int]]] = OrderedDict()
        self._next = 0
        self._max = max_batches
        self._owed: dict[str, list[int]] = {}
        self.forgotten = 0  # batches dropped unsettled by the bound: their devices resend

    def batch(self, readings: list[tuple[str, int]]) -> int:
        """A new batch of (device, ts): its number."""
        number = self._next
        self._next += 1
        self._batches[number] = readings
        while len(self._batches) > self._max:
            self._batches.popitem(last=False)
            self.forgotten += 1
        return number

    def settled(self, number: int) -> int:
        """The cloud settled batch ``number``: how many readings that settles (0 for a
        number it does not know, a repeat say)."""
        readings = self._batches.pop(number, None) or []
        for device, ts in readings:
            self._owed.setdefault(device, []).append(ts)
        return len(readings)

    def refused(self, device: str, ts: int) -> None:
        """A reading the gateway refused: settled too, it must not come again."""
        self._owed.setdefault(device, []).append(ts)

    def owed(self) -> dict[str, list[int]]:
        """The receipts to send now, by device (and forget them)."""
        owed, self._owed = self._owed, {}
        return owed

    @property
    def pending(self) -> int:
        return len(self._batches)
