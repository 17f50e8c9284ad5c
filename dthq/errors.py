"""One error hierarchy for everything the protocol can reject.

Every failure path raises a subclass of :class:`DTHQError`, so callers (and the
CLI) can tell a user error from a bug: anything else escaping is a bug.
"""

from __future__ import annotations


class DTHQError(Exception):
    """Base class of every error this package raises on purpose."""


class DecodeError(DTHQError):
    """Bytes that do not parse: truncated, oversized, trailing data, bad field."""


class AuthenticationError(DTHQError):
    """A MAC, signature, AEAD tag or key confirmation did not verify."""


class ReplayError(DTHQError):
    """A record that was already accepted, or is older than the replay window."""


class FreshnessError(ReplayError):
    """A record whose authenticated timestamp is too old, or too far in the future."""


class FutureError(FreshnessError):
    """A timestamp further ahead of the receiver's clock (or of the record that
    authenticates it) than the allowed skew: a clock fault, never a vital sign."""


class UnsupportedError(DTHQError):
    """A version, algorithm, suite, mode or backend this build does not offer."""


class StateError(DTHQError):
    """An operation that is illegal in the current state (wrong flight, closed session)."""


class RunAborted(DTHQError):
    """A run that started and did not finish (benchmarks that failed, a fleet part that
    died, a measurement driver that crashed): its figures cannot be trusted. The CLI
    exits 3 for it, where other errors, which a user or the environment causes, exit 2."""
