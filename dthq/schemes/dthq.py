"""DTHQ as a :class:`~dthq.schemes.base.Scheme`: provisioning, then the three-flight handshake."""

from __future__ import annotations

import functools
import os
from typing import Any

from dthq.crypto import signatures
from dthq.crypto.kem import get_kem
from dthq.errors import UnsupportedError
from dthq.protocol.compression import Codec, edge_profile, make_codec
from dthq.protocol.config import (
    Auth,
    InitiatorConfig,
    KeyProvider,
    Mode,
    PeerRecord,
    ResponderConfig,
)
from dthq.protocol.cookie import CookieJar, RetryPolicy
from dthq.protocol.handshake import Initiator, Responder, State
from dthq.protocol.record import RecordLayer, RekeyPolicy
from dthq.protocol.suites import suite_for
from dthq.schemes.base import Session
from dthq.transport import MemoryTransport, Transport

AUTH_CHOICES = {
    "psk": Auth.PSK,
    "mldsa": Auth.MLDSA65,
    "mldsa44": Auth.MLDSA44,
    "mldsa65": Auth.MLDSA65,
    "kem": Auth.KEM,  # both sides by static KEM keys
    "kem-psk": Auth.KEM_PSK,  # B by its static KEM key, A by the PSK
}
AUTH_LABELS = {Auth.PSK: "psk", Auth.KEM: "kem", Auth.KEM_PSK: "kem-psk"}
DEVICE_ID = b"device-A"
SERVICE_ID = b"service-B"


class DTHQScheme:
    """One DTHQ configuration. Construction is provisioning (PSK, long-term keys);
    ``establish`` is one complete handshake, as the benchmarks time it."""

    name = "dthq"
    quantum_safe = "yes"

    def __init__(
        self,
        *,
        key_length: int = 256,
        kem: str = "ML-KEM-768",
        auth: str = "psk",
        chacha: bool = False,
        edge: str | None = None,
        codec: str | None = None,
        brotli_quality: int = 5,
        kem_backend: str | None = None,
        sig_backend: str | None = None,
        aead_backend: str | None = None,
        rekey: RekeyPolicy | None = None,
        retry: str = "never",
        mode: str = "mlkem",
        key_providers: tuple[KeyProvider, KeyProvider] | None = None,
    ) -> None:
        """``mode``: mlkem, qkd or qkd+mlkem. The QKD modes need A's and B's key providers
        (Q as each sees it); the ``dthq-qkd`` scheme (dthq.qkd.scheme) brings them."""
        if auth not in AUTH_CHOICES:
            raise UnsupportedError(f"unknown auth {auth!r}; choose {', '.join(AUTH_CHOICES)}")
        self.suite = suite_for(key_length, chacha=chacha)
        self.kem = kem
        self.auth = AUTH_CHOICES[auth]
        self.kem_backend = kem_backend
        self.aead_backend = aead_backend
        self.rekey = rekey
        codec_name = codec or (edge_profile(edge).codec if edge else "none")
        self.codec: Codec = make_codec(codec_name, brotli_quality=brotli_quality)
        self.edge = edge
        self.mode = Mode.named(mode)
        if self.mode is not Mode.MLKEM and key_providers is None:
            raise UnsupportedError(
                f"mode {self.mode.label} needs key providers (Q): use the dthq-qkd scheme"
            )
        a_keys, b_keys = key_providers or (None, None)
        # Provisioning (Algorithm 1's registration): happens once, outside the handshake.
        psk = os.urandom(self.suite.hash_len) if self.auth.uses_psk else None
        self._device_key = self._service_key = None
        device_static = service_static = None
        device_kem_key = service_kem_key = None
        if self.auth.signature is not None:
            self._device_key = signatures.generate(self.auth.signature.name, sig_backend)
            self._service_key = signatures.generate(self.auth.signature.name, sig_backend)
        if self.auth.static_kem:
            static_kem = get_kem(kem, kem_backend)
            service_static, service_kem_key = static_kem.generate()
            if self.auth is Auth.KEM:
                device_static, device_kem_key = static_kem.generate()
        as_seen_by_b = PeerRecord(
            self.auth,
            psk=psk,
            verify_key=self._device_key.public_bytes if self._device_key else None,
            kem_key=device_kem_key,
        )
        as_seen_by_a = PeerRecord(
            self.auth,
            psk=psk,
            verify_key=self._service_key.public_bytes if self._service_key else None,
            kem_key=service_kem_key,
        )
        self.initiator_config = InitiatorConfig(
            DEVICE_ID,
            SERVICE_ID,
            self.suite,
            as_seen_by_a,
            kem=kem,
            kem_backend=kem_backend,
            signing_key=self._device_key,
            sig_backend=sig_backend,
            mode=self.mode,
            key_provider=a_keys,
            static_kem_key=device_static,
        )
        try:
            policy = RetryPolicy(retry)
        except ValueError:
            choices = ", ".join(p.value for p in RetryPolicy)
            raise UnsupportedError(f"unknown retry policy {retry!r}; choose {choices}") from None
        self.responder_config = ResponderConfig(
            SERVICE_ID,
            {DEVICE_ID: as_seen_by_b},
            signing_keys={self.auth: self._service_key} if self._service_key else {},
            static_kem_keys={kem: service_static} if service_static else {},
            kem_backend=kem_backend,
            sig_backend=sig_backend,
            retry=policy,
            cookies=None if policy is RetryPolicy.NEVER else CookieJar(0),
            key_provider=b_keys,
        )

    @property
    def params(self) -> dict[str, Any]:
        """What this configuration is, as results record it (a fresh dict each time)."""
        return dict(self._params)

    @functools.cached_property
    def _params(self) -> dict[str, Any]:  # made once: establish() hands a copy to each session
        return {
            "kem": self.kem,
            "auth": AUTH_LABELS.get(self.auth) or self.auth.signature.name,  # type: ignore[union-attr]
            "key_length": self.suite.key_length,
            "aead": self.suite.aead_name,
            "hash": self.suite.hash_name,
            "codec": self.codec.name,
            "edge": self.edge,
            "retry": self.responder_config.retry.value,
            "mode": self.mode.label,
        }

    def establish(self, now_ms: int, transport: Transport | None = None) -> Session:
        """One complete handshake over ``transport`` (in memory unless given)."""
        transport = transport or MemoryTransport()
        a = Initiator(self.initiator_config)
        b = Responder(self.responder_config)
        transport.send("A", a.start(), "HELLO")
        reply = b.receive(transport.receive("B"), now_ms)
        assert reply is not None
        if b.state is State.RETRY_SENT:  # B kept nothing; a fresh machine takes the retry
            transport.send("B", reply, "RETRY")
            transport.send("A", a.receive(transport.receive("A")), "HELLO")
            b = Responder(self.responder_config)
            reply = b.receive(transport.receive("B"), now_ms)
            assert reply is not None
        transport.send("B", reply, "REPLY")
        transport.send("A", a.receive(transport.receive("A")), "FINISH")
        b.receive(transport.receive("B"), now_ms)
        options: dict[str, Any] = {
            "codec": self.codec,
            "rekey": self.rekey,
            "aead_backend": self.aead_backend,
        }
        # Both record layers ready to carry records, ciphers made: the handshake's figure
        # must not leave that cost to a first record that no figure counts.
        return Session(
            self.name,
            RecordLayer.from_keys(a.session_keys(), now_ms, **options).prepare(),
            RecordLayer.from_keys(b.session_keys(), now_ms, **options).prepare(),
            transport.log,
            self.params,
        )
