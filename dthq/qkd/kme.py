"""The key manager Q, shaped like ETSI GS QKD 014 v1.1.1, fed by the SIMULATED link.

One object stands for the pair of key management entities (A's and B's): in a real
network each end's KME holds the same keys because QKD put them there; here the
simulated link does. SAEs (A, the master, and B, the slave) ask it for keys:
``enc_keys`` gives the master new keys with their UUIDs, ``dec_keys`` gives the slave
the same keys once, by UUID. Every refusal is a :class:`KeyManagerError` naming why.
"""

from __future__ import annotations

import base64
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from dthq.errors import DTHQError
from dthq.qkd.bb84 import QKDAbort, QuantumChannel
from dthq.qkd.link import distil


class KeyManagerError(DTHQError):
    """A request the key manager refuses: unknown or wrong SAE, unknown, consumed or
    wrong-peer key id, a size it does not serve, or an empty pool."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status the ETSI API answers with


@dataclass
class _Key:
    key: bytes
    master: str
    slave: str
    delivered_to_master: bool = False


class KeyManager:
    MAX_FAILED_RUNS = 3  # aborted link runs in a row before a request is refused (503)

    def __init__(
        self,
        master_sae_id: str = "device-A",
        slave_sae_id: str = "service-B",
        *,
        source_kme_id: str = "KME-A",
        target_kme_id: str = "KME-B",
        key_size: int = 256,
        min_key_size: int = 128,
        max_key_size: int = 512,
        max_key_count: int = 4096,
        max_key_per_request: int = 128,
        channel: QuantumChannel | None = None,
        raw_pulses: int = 200_000,
        seed: int | None = None,
    ) -> None:
        self.source_kme_id, self.target_kme_id = source_kme_id, target_kme_id
        self.master_sae_id, self.slave_sae_id = master_sae_id, slave_sae_id
        self.key_size, self.min_key_size, self.max_key_size = key_size, min_key_size, max_key_size
        self.max_key_count, self.max_key_per_request = max_key_count, max_key_per_request
        self._channel = channel or QuantumChannel()
        self._raw_pulses = raw_pulses
        self._seed = seed
        self._runs = 0
        self._stream = bytearray()  # secret bytes from the link, not yet cut into keys
        self._keys: dict[str, _Key] = {}  # handed to the master, not yet to the slave
        self._lock = threading.Lock()  # the pool and the delivered-keys table
        self._link = threading.Lock()  # the simulated link
        self._refiller: threading.Thread | None = None
        self._stop = threading.Event()

    # --- the pool ------------------------------------------------------------------------

    def refill(self, min_bytes: int) -> bool:
        """Run the simulated link until the pool holds ``min_bytes`` (or the cap).

        False if the link aborted ``MAX_FAILED_RUNS`` runs in a row (too noisy, or an
        eavesdropper): the caller answers "no key available" rather than waiting forever.
        """
        target = min(min_bytes, self.max_key_count * self.max_key_size // 8)
        failed = 0
        with self._link:  # one link: runs (and their seeds) never overlap
            while len(self._stream) < target:
                seed = None if self._seed is None else self._seed + self._runs
                self._runs += 1
                try:
                    run = distil(self._raw_pulses, self._channel, key_bits=128, seed=seed)
                except QKDAbort:
                    failed += 1
                    if failed == self.MAX_FAILED_RUNS:
                        return False
                    continue
                failed = 0
                with self._lock:
                    self._stream.extend(b"".join(run.keys))
        return True

    def start(self, interval_s: float = 0.5, low_water_bytes: int = 64 * 32) -> None:
        """Keep the pool above a low-water mark from a background thread."""

        def loop() -> None:
            while not self._stop.wait(interval_s):
                self.refill(low_water_bytes)

        self._stop.clear()
        self._refiller = threading.Thread(target=loop, name="kme-refill", daemon=True)
        self._refiller.start()

    def stop(self) -> None:
        self._stop.set()
        if self._refiller is not None:
            self._refiller.join()

    @property
    def awaiting_delivery(self) -> int:
        """Keys handed to the master that its slave has not yet fetched."""
        return len(self._keys)

    @property
    def stored_key_count(self) -> int:
        return len(self._stream) * 8 // self.key_size

    # --- the ETSI GS QKD 014 interface -------------------------------------------------

    def status(self, sae_id: str, *, caller: str = "") -> dict[str, Any]:
        """The key stream between ``caller`` and its peer ``sae_id``."""
        peer = self._peer_of(sae_id)
        if caller and caller != peer:
            raise KeyManagerError(f"no key stream between {caller!r} and {sae_id!r}", 401)
        return {
            "source_KME_ID": self.source_kme_id,
            "target_KME_ID": self.target_kme_id,
            "master_SAE_ID": self.master_sae_id,
            "slave_SAE_ID": self.slave_sae_id,
            "key_size": self.key_size,
            "stored_key_count": self.stored_key_count,
            "max_key_count": self.max_key_count,
            "max_key_per_request": self.max_key_per_request,
            "max_key_size": self.max_key_size,
            "min_key_size": self.min_key_size,
            "max_SAE_ID_count": 0,
        }

    def enc_keys(
        self, slave_sae_id: str, number: int = 1, size: int | None = None, *, caller: str = ""
    ) -> dict[str, Any]:
        """New keys for the master SAE to use with ``slave_sae_id``."""
        caller = caller or self.master_sae_id
        if caller != self.master_sae_id or slave_sae_id != self.slave_sae_id:
            raise KeyManagerError(
                f"no key stream between {caller!r} (master) and {slave_sae_id!r}", 401
            )
        size = self.key_size if size is None else size
        if size % 8 or not self.min_key_size <= size <= self.max_key_size:
            raise KeyManagerError(
                f"key size {size} bits: must be a multiple of 8 in "
                f"{self.min_key_size}..{self.max_key_size}"
            )
        if not 1 <= number <= self.max_key_per_request:
            raise KeyManagerError(f"number {number}: must be 1..{self.max_key_per_request}")
        self.refill(number * size // 8)
        with self._lock:
            if len(self._stream) < number * size // 8:
                raise KeyManagerError("no key available: the QKD link is refilling the pool", 503)
            keys = []
            for _ in range(number):
                key = bytes(self._stream[: size // 8])
                del self._stream[: size // 8]
                key_id = str(uuid.uuid4())
                self._keys[key_id] = _Key(key, self.master_sae_id, slave_sae_id, True)
                keys.append({"key_ID": key_id, "key": base64.b64encode(key).decode()})
        return {"keys": keys}

    def dec_keys(
        self, master_sae_id: str, key_ids: list[str], *, caller: str = ""
    ) -> dict[str, Any]:
        """The keys ``master_sae_id`` was given, once, to its slave."""
        caller = caller or self.slave_sae_id
        out = []
        with self._lock:
            found = []
            for key_id in key_ids:
                entry = self._keys.get(key_id)
                if entry is None:
                    raise KeyManagerError(f"key {key_id!r} is unknown or already delivered")
                if entry.master != master_sae_id or entry.slave != caller:
                    raise KeyManagerError(f"key {key_id!r} belongs to another pair of SAEs", 401)
                found.append((key_id, entry))
            for key_id, entry in found:  # all or nothing
                del self._keys[key_id]
                out.append({"key_ID": key_id, "key": base64.b64encode(entry.key).decode()})
        return {"keys": out}

    def _peer_of(self, sae_id: str) -> str:
        if sae_id == self.master_sae_id:
            return self.slave_sae_id
        if sae_id == self.slave_sae_id:
            return self.master_sae_id
        raise KeyManagerError(f"unknown SAE {sae_id!r}", 401)


class ETSIKeys(Protocol):
    """The three calls of ETSI GS QKD 014: :class:`KeyManager` in-process, or
    :class:`dthq.qkd.kme_client.KMEClient` over HTTPS."""

    def status(self, sae_id: str, *, caller: str = "") -> dict[str, Any]: ...

    def enc_keys(
        self, slave_sae_id: str, number: int = 1, size: int | None = None, *, caller: str = ""
    ) -> dict[str, Any]: ...

    def dec_keys(
        self, master_sae_id: str, key_ids: list[str], *, caller: str = ""
    ) -> dict[str, Any]: ...


class SAEKeys:
    """One SAE's view of the key manager as the handshake's KeyProvider."""

    ID_SIZE = 16  # a UUID on the wire

    def __init__(self, kme: ETSIKeys, sae_id: str, peer_sae_id: str) -> None:
        self.kme, self.sae_id, self.peer = kme, sae_id, peer_sae_id

    def enc_keys(self, size: int) -> tuple[bytes, bytes]:
        got = self.kme.enc_keys(self.peer, 1, size * 8, caller=self.sae_id)["keys"][0]
        return uuid.UUID(got["key_ID"]).bytes, base64.b64decode(got["key"])

    def dec_keys(self, key_id: bytes, size: int) -> bytes:
        if len(key_id) != self.ID_SIZE:
            raise KeyManagerError(f"a key id is {self.ID_SIZE} bytes, got {len(key_id)}")
        got = self.kme.dec_keys(self.peer, [str(uuid.UUID(bytes=key_id))], caller=self.sae_id)
        key = base64.b64decode(got["keys"][0]["key"])
        if len(key) != size:
            raise KeyManagerError(f"key is {len(key)} bytes, the mode needs {size}")
        return key
