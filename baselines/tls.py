"""TLS 1.3 on a real stack: pyOpenSSL over the OpenSSL bundled with ``cryptography``.

The stdlib ``ssl`` module links the system OpenSSL 3.0, which has no ML-KEM, so
it cannot give the post-quantum rows. Groups are set with
``SSL_CTX_set1_curves_list`` and the negotiated group is read back with
``SSL_get0_group_name``; a row whose group was not negotiated is an error, not a
silent fallback. Both sides authenticate (mutual TLS), as DTHQ does.

In-process runs pump bytes between two memory BIOs; ``handshake_over_tcp`` runs
the same contexts over a loopback TCP socket.
"""

from __future__ import annotations

import datetime
import socket
import threading
import warnings
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, mldsa
from cryptography.x509.oid import NameOID
from OpenSSL import SSL, crypto
from OpenSSL._util import lib as _lib

from dthq import AuthenticationError, Flight, Session, StateError, UnsupportedError

GROUPS = {"X25519": "no", "X25519MLKEM768": "hybrid", "MLKEM768": "yes"}
CIPHERS = {128: b"TLS_AES_128_GCM_SHA256", 256: b"TLS_AES_256_GCM_SHA384"}
RECORD_OVERHEAD = 5 + 1 + 16  # record header, inner content type, GCM tag
_CHUNK = 1 << 20


@dataclass(frozen=True)
class _Identity:
    cert_pem: bytes
    key_pem: bytes
    name: str


def _identity(common_name: str, kind: str) -> _Identity:
    """A self-signed certificate: ECDSA P-256 or ML-DSA-65 (provisioning, not timed)."""
    if kind == "ecdsa":
        key: Any = ec.generate_private_key(ec.SECP256R1())
        algorithm: Any = hashes.SHA256()
    elif kind == "mldsa":
        key, algorithm = mldsa.MLDSA65PrivateKey.generate(), None
    else:
        raise UnsupportedError(f"unknown certificate type {kind!r}; choose ecdsa or mldsa")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .sign(key, algorithm)
    )
    return _Identity(
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        f"{'ML-DSA-65' if kind == 'mldsa' else 'ECDSA P-256'}",
    )


def _context(
    group: str, key_length: int, own: _Identity, peer: _Identity, server: bool
) -> SSL.Context:
    ctx = SSL.Context(SSL.TLS_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
    ctx.set_max_proto_version(SSL.TLS1_3_VERSION)
    if _lib.SSL_CTX_set1_curves_list(ctx._context, group.encode()) != 1:
        raise UnsupportedError(
            f"this OpenSSL ({SSL.OpenSSL_version(SSL.OPENSSL_VERSION)!r}) "
            f"does not offer the TLS group {group}"
        )
    ctx.set_tls13_ciphersuites(CIPHERS[key_length])
    # No session tickets: one handshake is one full key establishment.
    ctx.set_options(SSL.OP_NO_TICKET)
    ctx.set_session_cache_mode(SSL.SESS_CACHE_OFF)
    cert = x509.load_pem_x509_certificate(own.cert_pem)
    ctx.use_certificate(cert)
    try:
        ctx.use_privatekey(serialization.load_pem_private_key(own.key_pem, None))  # type: ignore[arg-type]
    except TypeError:
        # pyOpenSSL cannot take an ML-DSA key object yet; OpenSSL's own PEM loader can.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.use_privatekey(crypto.load_privatekey(crypto.FILETYPE_PEM, own.key_pem))
    peer_cert = x509.load_pem_x509_certificate(peer.cert_pem)
    ctx.get_cert_store().add_cert(crypto.X509.from_cryptography(peer_cert))
    ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, lambda *args: bool(args[-1]))
    return ctx


def _drain(conn: SSL.Connection) -> bytes:
    out = b""
    while True:
        try:
            chunk = conn.bio_read(_CHUNK)
        except SSL.WantReadError:
            return out
        if not chunk:
            return out
        out += chunk


class TLSChannel:
    """Application data through one side of a memory-BIO TLS connection."""

    overhead = RECORD_OVERHEAD

    def __init__(self, conn: SSL.Connection) -> None:
        self._conn = conn

    def seal(self, payload: bytes, now_ms: int) -> bytes:
        self._conn.sendall(payload)
        return _drain(self._conn)

    def open(self, record: bytes, now_ms: int) -> bytes:  # TLS records carry no time
        self._conn.bio_write(record)
        out = b""
        while True:
            try:
                out += self._conn.recv(_CHUNK)
            except SSL.WantReadError:
                return out
            except SSL.Error as exc:
                raise AuthenticationError(f"TLS record rejected: {exc}") from None


class TLS13Scheme:
    name = "tls13"

    def __init__(
        self,
        *,
        group: str = "X25519",
        key_length: int = 256,
        cert: str | None = None,
        edge: str | None = None,
        codec: str | None = None,
        **_: Any,
    ) -> None:
        if group not in GROUPS:
            raise UnsupportedError(f"unknown TLS group {group!r}; choose {', '.join(GROUPS)}")
        if key_length not in CIPHERS:
            raise UnsupportedError("TLS 1.3 offers AES-GCM with key length 128 or 256")
        if codec not in (None, "none"):
            raise UnsupportedError("TLS 1.3 has no record compression")
        self.group = group
        self.key_length = key_length
        self.quantum_safe = GROUPS[group]
        kind = cert or ("ecdsa" if group == "X25519" else "mldsa")
        server, client = _identity("service-B", kind), _identity("device-A", kind)
        self.certificate = server.name
        self._server_ctx = _context(group, key_length, server, client, server=True)
        self._client_ctx = _context(group, key_length, client, server, server=False)

    @property
    def params(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "key_length": self.key_length,
            "aead": f"AES-{self.key_length}-GCM",
            "certificate": self.certificate,
            "codec": "none",
        }

    def _pair(self) -> tuple[SSL.Connection, SSL.Connection]:
        client = SSL.Connection(self._client_ctx, None)
        client.set_connect_state()
        client.set_tlsext_host_name(b"service-B")
        server = SSL.Connection(self._server_ctx, None)
        server.set_accept_state()
        return client, server

    def establish(self, now_ms: int) -> Session:
        client, server = self._pair()
        flights: list[Flight] = []
        done = {"A": False, "B": False}
        for _ in range(16):  # TLS 1.3 with client auth needs three; bounded against stalls
            for role, me, peer in (("A", client, server), ("B", server, client)):
                if not done[role]:
                    try:
                        me.do_handshake()
                        done[role] = True
                    except SSL.WantReadError:
                        pass
                    except SSL.Error as exc:
                        raise AuthenticationError(f"TLS handshake failed: {exc}") from None
                out = _drain(me)
                if out:
                    flights.append(Flight(role, f"flight-{len(flights) + 1}", out))
                    peer.bio_write(out)
            if all(done.values()):  # every output was drained and delivered above
                break
        else:
            raise StateError("TLS handshake did not complete")
        self._check(client, server)
        params = {
            **self.params,
            "negotiated_group": client.get_group_name(),
            "cipher": client.get_cipher_name(),
        }
        return Session(
            f"tls13-{self.group.lower()}", TLSChannel(client), TLSChannel(server), flights, params
        )

    def _check(self, client: SSL.Connection, server: SSL.Connection) -> None:
        for side in (client, server):
            group = side.get_group_name()
            if (group or "").lower() != self.group.lower():
                raise UnsupportedError(f"negotiated group {group!r}, asked for {self.group}")
            if side.get_protocol_version_name() != "TLSv1.3":
                raise UnsupportedError(f"negotiated {side.get_protocol_version_name()}")

    def handshake_over_tcp(self, timeout_s: float = 10.0) -> str:
        """One mutually authenticated handshake over loopback TCP; returns the negotiated group."""
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(timeout_s)
        port = listener.getsockname()[1]
        errors: list[BaseException] = []

        def serve() -> None:
            try:
                sock, _ = listener.accept()
                sock.settimeout(None)  # pyOpenSSL needs blocking sockets
                with sock:
                    conn = SSL.Connection(self._server_ctx, sock)
                    conn.set_accept_state()
                    conn.do_handshake()
                    conn.recv(1)  # wait for the client's byte: keeps the socket open until done
            except BaseException as exc:  # surfaced in the caller's thread
                errors.append(exc)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
                sock.settimeout(None)
                conn = SSL.Connection(self._client_ctx, sock)
                conn.set_connect_state()
                conn.set_tlsext_host_name(b"service-B")
                conn.do_handshake()
                conn.sendall(b"\x00")
                group = conn.get_group_name()
            thread.join(timeout_s)
        finally:
            listener.close()
        if errors:
            raise AuthenticationError(f"TLS over TCP failed on the server: {errors[0]}")
        if (group or "").lower() != self.group.lower():
            raise UnsupportedError(f"negotiated group {group!r}, asked for {self.group}")
        return group
