"""The initiator's side of one pipeline session (a device to its gateway, a gateway to
the cloud), sans-I/O: frames in, frames out, time passed in.

The initiator counts itself established only on the responder's CONFIRM, the first
record under the new keys, which only a responder that verified FINISH can seal. An
attempt without it by its deadline is given up and a new HELLO goes out; each attempt's
deadline is a jittered, doubling backoff. Down-topic flights are unauthenticated until
checked, so each is tried on a fork of the waiting machine (``Initiator.fork``): one that
fails leaves the attempt as it was. A NO_SESSION (unauthenticated) only starts an
attempt, once per backoff interval; the current session stays in use until the new
one is confirmed.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

from dthq.errors import DecodeError, DTHQError, StateError
from dthq.pipeline import topics
from dthq.protocol.config import InitiatorConfig
from dthq.protocol.handshake import Initiator, State
from dthq.protocol.keyschedule import SessionKeys
from dthq.protocol.record import RecordLayer
from dthq.protocol.wire import RETRY

BACKOFF_BASE_MS = 2_000  # the first attempt's wait for CONFIRM: 1..2 s
BACKOFF_CAP_MS = 60_000  # the longest: 30..60 s
MAX_RETRIED = 2  # RETRYs (unauthenticated) taken per attempt, beside the HELLO without one

LayerFactory = Callable[[SessionKeys, int], RecordLayer]


class Backoff:
    """Attempt ``n``'s interval: uniform in [c/2, c] for c = min(cap, base * 2**n)."""

    def __init__(
        self, rng: random.Random, base_ms: int = BACKOFF_BASE_MS, cap_ms: int = BACKOFF_CAP_MS
    ) -> None:
        self._rng, self.base_ms, self.cap_ms = rng, base_ms, cap_ms
        self.attempts = 0  # in a row, since the last quiet spell

    def ceiling_ms(self, attempt: int) -> int:
        return min(self.cap_ms, self.base_ms << min(attempt, 32))

    def next_ms(self) -> int:
        ceiling = self.ceiling_ms(self.attempts)
        self.attempts += 1
        return ceiling - self._rng.randrange(ceiling // 2 + 1)


class InitiatorSession:
    def __init__(self, config: InitiatorConfig, layer: LayerFactory, rng: random.Random) -> None:
        """``layer`` builds the record layer from released keys (the party's options)."""
        self._config = config
        self._layer = layer
        self.backoff = Backoff(rng)
        self._lock = threading.Lock()  # the bus thread, the scheduler and the caller
        # The attempt in progress: its HELLO's machine, then one per RETRY taken; after
        # FINISH, the candidate session waiting for its CONFIRM.
        self._waiting: list[Initiator] = []
        self._candidate: RecordLayer | None = None
        self._deadline_ms: int | None = None  # the attempt's, or the last attempt's
        self.session: RecordLayer | None = None  # confirmed
        self.confirmed = 0  # sessions confirmed so far

    @property
    def deadline_ms(self) -> int | None:
        """When the attempt in progress (or the last one) gives up on its CONFIRM; until
        then a NO_SESSION starts nothing."""
        return self._deadline_ms

    @property
    def in_progress(self) -> bool:
        return bool(self._waiting) or self._candidate is not None

    def start(self, now_ms: int) -> bytes:
        """A new attempt: its HELLO frame. The current session stays in use meanwhile."""
        with self._lock:
            return self._start(now_ms)

    def _start(self, now_ms: int) -> bytes:
        last = self._deadline_ms
        if last is not None and now_ms - last > self.backoff.cap_ms:
            self.backoff.attempts = 0  # quiet for longer than the longest interval
        machine = Initiator(self._config)
        hello = machine.start()
        self._waiting, self._candidate = [machine], None
        self._deadline_ms = now_ms + self.backoff.next_ms()
        return topics.frame(topics.FLIGHT, hello)

    def poll(self, now_ms: int) -> bytes | None:
        """A new HELLO frame if the attempt in progress passed its deadline unconfirmed."""
        with self._lock:
            due = self.in_progress and self._deadline_ms is not None
            if due and now_ms >= self._deadline_ms:  # type: ignore[operator]
                return self._start(now_ms)
            return None

    def receive(self, kind: int, body: bytes, now_ms: int) -> bytes | None:
        """A down-topic frame: what to send back, if anything. Raises a DTHQError for a
        frame it refuses; nothing it refuses changes the attempt or the session."""
        with self._lock:
            if kind == topics.FLIGHT:
                return self._flight(body, now_ms)
            if kind == topics.CONFIRM:
                self._confirm(body, now_ms)
                return None
            if kind == topics.NO_SESSION:
                return self._suspect(now_ms)
            raise StateError(f"frame 0x{kind:02x} is not for a handshake")

    def suspect(self, now_ms: int) -> bytes | None:
        """The session may be gone (NO_SESSION, or no receipt for long): a new attempt's
        HELLO, unless one is running or the backoff interval has not passed."""
        with self._lock:
            return self._suspect(now_ms)

    def _suspect(self, now_ms: int) -> bytes | None:
        busy = self.in_progress or (self._deadline_ms is not None and now_ms < self._deadline_ms)
        return None if busy else self._start(now_ms)

    def _flight(self, body: bytes, now_ms: int) -> bytes:
        if not self._waiting:
            raise StateError("no handshake is waiting for a flight")
        if body[:1] == bytes([RETRY]):
            # The one without a cookie takes it: a forged RETRY cannot spoil the genuine.
            trial = self._waiting[0].fork()
            hello = trial.receive(body)
            self._waiting = [self._waiting[0], *self._waiting[1:][-(MAX_RETRIED - 1) :], trial]
            return topics.frame(topics.FLIGHT, hello)
        error: DTHQError | None = None
        for machine in reversed(self._waiting):  # the newest HELLO first
            trial = machine.fork()
            try:
                finish = trial.receive(body)
            except DTHQError as exc:
                error = error or exc
                continue
            assert trial.state is State.ESTABLISHED
            self._candidate = self._layer(trial.session_keys(), now_ms)
            self._waiting = []
            return topics.frame(topics.FLIGHT, finish)
        assert error is not None
        raise error

    def _confirm(self, body: bytes, now_ms: int) -> None:
        candidate = self._candidate
        if candidate is None:
            raise StateError("a CONFIRM with no handshake waiting for one")
        payload = candidate.open(body, now_ms)
        if payload:
            raise DecodeError(f"a CONFIRM carries no payload, got {len(payload)} bytes")
        self.session, self._candidate = candidate, None
        self.confirmed += 1
