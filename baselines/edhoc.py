"""EDHOC + OSCORE: the IETF's lightweight stack for constrained devices.

The handshake is EDHOC (RFC 9528) through ``lakers-python``: cipher suite 2 (P-256,
AES-CCM-16-64-128, SHA-256), static-DH authentication of both sides (method 3, the
only one lakers implements) with raw public keys in CWT Claims Sets, sent by
reference ('kid'). Telemetry then travels as OSCORE-protected CoAP messages (RFC
8613) through ``aiocoap``'s OSCORE code, with the security context derived from the
EDHOC exporter as RFC 9668 does (master secret 16 bytes, salt 8 bytes, each side's
Sender ID the peer's connection identifier).

Both endpoints send requests (each has its own sender key and sequence number), so
either side can seal. A sealed record is a whole CoAP message (4-byte header, no
token, the OSCORE option, the ciphertext), which is what crosses the link.

Not quantum-safe: P-256 ECDH falls to a quantum computer. The post-quantum EDHOC
work is in drafts (quantum-resistant cipher suites, draft-spm-lake-pqsuites; KEM
authentication, draft-pocero-authkem-edhoc).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import cbor2
import lakers
from aiocoap import NON, POST, Message, oscore
from aiocoap import error as coap_error
from cryptography.hazmat.primitives.asymmetric import ec

from dthq import (
    AuthenticationError,
    DecodeError,
    Flight,
    ReplayError,
    Session,
    StateError,
    UnsupportedError,
)

CIPHER_SUITE = 2
AEAD = "AES-CCM-16-64-128"
OSCORE_SALT_BYTES = 8
COAP_HEADER = 4  # version/type/token length, code, message id; no token
REPLAY_WINDOW = 32
# What a sealed record adds to its payload while the Partial IV and kid are one byte
# each (sequence numbers below 256): CoAP header 4, OSCORE option 4 (option header,
# flag byte, Partial IV, kid), outer payload marker 1, inner code 1, inner payload
# marker 1, CCM tag 8.
RECORD_OVERHEAD = COAP_HEADER + 4 + 1 + 1 + 1 + 8


@dataclass(frozen=True)
class Credential:
    """A static P-256 key and its CWT Claims Set, as EDHOC's CRED_x."""

    private_key: bytes  # 32-byte scalar
    ccs: bytes  # the CCS, byte for byte what the transcript hashes

    @property
    def lakers(self) -> lakers.Credential:
        return lakers.Credential(self.ccs)


def ccs_credential(private_key: bytes, subject: str, kid: bytes) -> Credential:
    """A CCS holding the public key of ``private_key`` as a COSE_Key (RFC 9528 §3.5.2):
    {2: subject, 8: {1: {1: 2 (EC2), 2: kid, -1: 1 (P-256), -2: x, -3: y}}}."""
    if len(private_key) != 32:
        raise DecodeError(f"a P-256 private key is 32 bytes, got {len(private_key)}")
    key = ec.derive_private_key(int.from_bytes(private_key, "big"), ec.SECP256R1())
    numbers = key.public_key().public_numbers()
    cose_key = {
        1: 2,
        2: kid,
        -1: 1,
        -2: numbers.x.to_bytes(32, "big"),
        -3: numbers.y.to_bytes(32, "big"),
    }
    return Credential(private_key, cbor2.dumps({2: subject, 8: {1: cose_key}}))


def fresh_credential(subject: str, kid: bytes) -> Credential:
    scalar = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
    return ccs_credential(scalar.to_bytes(32, "big"), subject, kid)


class _Context(oscore.CanProtect, oscore.CanUnprotect, oscore.SecurityContextUtils):
    """An in-memory OSCORE security context keyed from an EDHOC session (RFC 9668 §3)."""

    echo_recovery = None  # no Echo-based replay-window recovery: a fresh context starts empty

    def __init__(self, edhoc: Any, sender_id: bytes, recipient_id: bytes) -> None:
        if sender_id == recipient_id:
            raise StateError("EDHOC connection identifiers must differ to key OSCORE")
        self.alg_aead = oscore.algorithms[AEAD]
        self.hashfun = oscore.hashfunctions["sha256"]
        self.id_context = None
        self.sender_id, self.recipient_id = sender_id, recipient_id
        secret = bytes(edhoc.edhoc_exporter(0, [], self.alg_aead.key_bytes))
        salt = bytes(edhoc.edhoc_exporter(1, [], OSCORE_SALT_BYTES))
        self.derive_keys(salt, secret)
        self.sender_sequence_number = 0
        self.recipient_replay_window = oscore.ReplayWindow(REPLAY_WINDOW, lambda: None)
        self.recipient_replay_window.initialize_empty()

    def post_seqnoincrease(self) -> None:
        """Nothing to persist: the context lives as long as the benchmark's session."""


class OSCOREChannel:
    """Telemetry as OSCORE-protected CoAP POSTs (non-confirmable, no token)."""

    overhead = RECORD_OVERHEAD

    def __init__(self, context: _Context) -> None:
        self._context = context
        self._mid = 0

    def seal(self, payload: bytes, now_ms: int) -> bytes:
        outer, _ = self._context.protect(Message(code=POST, payload=payload))
        self._mid = (self._mid + 1) & 0xFFFF
        outer.mtype, outer.mid, outer.token = NON, self._mid, b""
        return bytes(outer.encode())

    def open(self, record: bytes, now_ms: int) -> bytes:
        if len(record) < COAP_HEADER:
            raise DecodeError(f"a CoAP message has at least {COAP_HEADER} bytes, got {len(record)}")
        try:
            message = Message.decode(record)
        except (coap_error.UnparsableMessage, ValueError, IndexError) as exc:
            raise DecodeError(f"not a CoAP message: {exc}") from None
        if message.opt.oscore is None:
            raise DecodeError("CoAP message carries no OSCORE option")
        try:
            inner, _ = self._context.unprotect(message)
        except oscore.ReplayError as exc:
            raise ReplayError(f"OSCORE replay: {exc}") from None
        except (oscore.ProtectionInvalid, oscore.NotAProtectedMessage) as exc:
            raise AuthenticationError(f"OSCORE message rejected: {exc}") from None
        return bytes(inner.payload)


# One-byte connection identifiers: the CBOR integers -24..23 (RFC 9528 §3.3.2).
_ONE_BYTE_IDS = [bytes([b]) for b in (*range(0x00, 0x18), *range(0x20, 0x38))]


def _pick_c_r(c_i: bytes) -> bytes:
    """C_R, distinct from C_I: the two become the OSCORE Sender IDs (RFC 9668 §3.1),
    which must differ. lakers would otherwise draw it at random, and may collide."""
    return secrets.choice([c for c in _ONE_BYTE_IDS if c != bytes(c_i)])


class EDHOCScheme:
    name = "edhoc-oscore"
    quantum_safe = "no"

    def __init__(
        self,
        *,
        initiator: Credential | None = None,
        responder: Credential | None = None,
        trusted_responder: Credential | None = None,
        **options: Any,
    ) -> None:
        """``trusted_responder`` is the credential A holds for B (B's own by default);
        a responder proving another key fails the handshake."""
        if unknown := set(options) - {"edge", "codec", "key_length"}:
            raise UnsupportedError(f"edhoc-oscore takes no option {', '.join(sorted(unknown))}")
        if options.get("codec") not in (None, "none") or options.get("edge"):
            raise UnsupportedError("OSCORE has no record compression")
        if options.get("key_length") not in (None, 128):
            raise UnsupportedError("EDHOC suite 2 keys OSCORE with AES-CCM-16-64-128 only")
        self.initiator = initiator or fresh_credential("device-A", b"\x2b")
        self.responder = responder or fresh_credential("", b"\x0a")
        self.trusted_responder = trusted_responder or self.responder

    @property
    def params(self) -> dict[str, Any]:
        return {
            "method": "static DH (3)",
            "cipher_suite": CIPHER_SUITE,
            "credentials": "CCS raw public keys, by reference (kid)",
            "aead": AEAD,
            "key_length": 128,
            "codec": "none",
            "forward_secret": True,
        }

    def handshake(self) -> tuple[Any, Any, list[Flight], bytes, bytes]:
        """One EDHOC run: both sides' lakers objects, the flights, C_I and C_R."""
        initiator = lakers.EdhocInitiator()
        responder = lakers.EdhocResponder(self.responder.private_key, self.responder.lakers)
        try:
            message_1 = bytes(initiator.prepare_message_1())
            c_i, _ead_1 = responder.process_message_1(message_1)
            message_2 = bytes(
                responder.prepare_message_2(lakers.CredentialTransfer.ByReference, _pick_c_r(c_i))
            )
            c_r, id_cred_r, _ead_2 = initiator.parse_message_2(message_2)
            initiator.verify_message_2(
                self.initiator.private_key,
                self.initiator.lakers,
                lakers.credential_check_or_fetch(id_cred_r, self.trusted_responder.lakers),
            )
            message_3, prk_i = initiator.prepare_message_3(lakers.CredentialTransfer.ByReference)
            message_3 = bytes(message_3)
            id_cred_i, _ead_3 = responder.parse_message_3(message_3)
            prk_r = responder.verify_message_3(
                lakers.credential_check_or_fetch(id_cred_i, self.initiator.lakers)
            )
        except ValueError as exc:  # lakers reports every protocol failure as ValueError
            raise AuthenticationError(f"EDHOC handshake failed: {exc}") from None
        if prk_i != prk_r:
            raise AuthenticationError("EDHOC: the two sides derived different PRK_out")
        # OSCORE's first protected message confirms the key (RFC 9528 §5.5), no message_4.
        initiator.completed_without_message_4()
        responder.completed_without_message_4()
        flights = [
            Flight("A", "message_1", message_1),
            Flight("B", "message_2", message_2),
            Flight("A", "message_3", message_3),
        ]
        return initiator, responder, flights, bytes(c_i), bytes(c_r)

    def establish(self, now_ms: int) -> Session:
        initiator, responder, flights, c_i, c_r = self.handshake()
        a = OSCOREChannel(_Context(initiator, sender_id=c_r, recipient_id=c_i))
        b = OSCOREChannel(_Context(responder, sender_id=c_i, recipient_id=c_r))
        return Session("edhoc-oscore", a, b, flights, {**self.params, "c_i": c_i, "c_r": c_r})
