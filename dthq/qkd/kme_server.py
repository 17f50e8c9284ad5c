"""The key manager's HTTPS server: uvicorn, mutual TLS, on loopback by default.

Every connection must present a client certificate signed by the PKI's CA (the TLS
handshake fails otherwise, before any HTTP). uvicorn 0.54 does not yet fill the ASGI TLS
extension (its pull requests #3043/#3132 are open), so :class:`_H11WithTLS` adds it: the
client certificate goes into ``scope["extensions"]["tls"]`` as the ASGI spec lays out,
and the app reads the SAE ID from there.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from cryptography import x509
from uvicorn.protocols.http.h11_impl import H11Protocol

from dthq.qkd.kme import KeyManager
from dthq.qkd.kme_api import make_app
from dthq.qkd.pki import PKI


class _H11WithTLS(H11Protocol):
    """uvicorn's h11 protocol, handing the verified client certificate to the app."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return  # plain HTTP: the spec says no "tls" entry at all
        der = ssl_object.getpeercert(binary_form=True)
        chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []
        tls = {
            "server_cert": None,
            "client_cert_chain": chain,
            "client_cert_name": (
                x509.load_der_x509_certificate(der).subject.rfc4514_string() if der else None
            ),
            "client_cert_error": None,
            "tls_version": None,
            "cipher_suite": None,
        }
        app = self.app

        async def with_tls(scope: Any, receive: Any, send: Any) -> None:
            extensions = {**(scope.get("extensions") or {}), "tls": tls}
            await app({**scope, "extensions": extensions}, receive, send)

        self.app = with_tls


def config(kme: KeyManager, pki: PKI, **options: Any) -> uvicorn.Config:
    cert, key = pki.server
    return uvicorn.Config(
        make_app(kme),
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        ssl_ca_certs=str(pki.ca),
        ssl_cert_reqs=ssl.CERT_REQUIRED,  # ETSI GS QKD 014: SAEs authenticate by certificate
        http=_H11WithTLS,
        lifespan="off",
        **options,
    )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections (it checks
    # proto); without it Nagle holds each response body for the client's delayed ACK (40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)  # connections queue from here on, even before uvicorn accepts
    except OSError as exc:
        sock.close()
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        raise OSError(exc.errno, f"cannot listen: {why}", f"{host}:{port}") from None
    return sock


@contextmanager
def serving(kme: KeyManager, pki: PKI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run the server in a thread for the duration of the block; yields its base URL."""
    sock = bind(host, port)
    server = uvicorn.Server(config(kme, pki, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the key manager's server stopped while starting")
            threading.Event().wait(0.01)
        yield f"https://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


def serve_until_interrupted(kme: KeyManager, pki: PKI, sock: socket.socket) -> None:
    """``dthq kme serve``'s lifecycle: a first key pool, the link refilling it, the server
    on ``sock`` until Ctrl-C; then the link stops and the socket closes."""
    kme.refill(64 * 32)  # a first pool, so the first requests do not wait
    kme.start()
    try:
        uvicorn.Server(config(kme, pki, log_level="warning")).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn shut down cleanly, then re-raised the interrupt it caught
    finally:
        kme.stop()
        sock.close()
