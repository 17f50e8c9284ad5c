"""Who may read the dashboard: the Host names it answers to, and the token it asks for
when it listens beyond loopback.

The Host check stops DNS rebinding (a page from another origin whose name now resolves to
this machine sends its own name as Host: refused with 400). The token stops everyone who
can reach a non-loopback port but was not shown the URL printed at start: a request
carries it as ``Authorization: Bearer T``, as the ``dthq_token`` cookie, or as ``?token=T``,
which also sets the cookie (HttpOnly, SameSite=Strict), so the page's own requests and
its event stream carry it without the token in any script. Compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
COOKIE = "dthq_token"
TOKEN_BYTES = 32  # 256 bits, 43 URL-safe characters


@dataclass(frozen=True)
class Access:
    hosts: tuple[str, ...]  # Host header names accepted (without the port), lower case
    token: str | None  # None: loopback only, no token
    shown: str = "127.0.0.1"  # the name the printed URL uses

    def url(self, port: int) -> str:
        """The page's URL to print: with the token when one is needed."""
        return f"http://{self.shown}:{port}/" + (f"?token={self.token}" if self.token else "")


def literal(host: str) -> str:
    """A host as it appears in a URL and a Host header: IPv6 in brackets."""
    return f"[{host}]" if ":" in host else host


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%")[0])  # a scope id ("fe80::1%eth0") aside
    except ValueError:
        return None


def _machine_names() -> list[str]:
    """What a browser elsewhere may call this machine: its names and addresses."""
    name = socket.gethostname()
    names = [name, socket.getfqdn()]
    with suppress(OSError):  # a name that does not resolve: the names alone
        names += [literal(str(info[4][0])) for info in socket.getaddrinfo(name, None)]
    return names


def access_for(requested: str, bound: str, extra: Sequence[str] = ()) -> Access:
    """The access rule for a server asked to listen on ``requested`` (as given, maybe a
    name) and bound to the address ``bound``: loopback needs no token, anything else does."""
    address = _address(bound)
    names = [literal(requested), *extra]
    if address is not None and address.is_loopback:
        return Access(_unique([*names, literal(bound), *LOOPBACK_NAMES]), None, names[0])
    token = secrets.token_urlsafe(TOKEN_BYTES)
    if address is not None and address.is_unspecified:  # every interface, loopback too
        machine = _machine_names()
        shown = extra[0] if extra else machine[0]  # "0.0.0.0" is no address to open
        return Access(_unique([*names, *machine, *LOOPBACK_NAMES]), token, shown)
    return Access(_unique([*names, literal(bound)]), token, names[0])


def _unique(names: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n.lower() for n in names if n))


class TokenGate:
    """ASGI middleware: a request without the token is 401; ``?token=`` sets the cookie."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self._token = app, token.encode()

    def _ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self._token)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [None])
        auth = headers.get("authorization", "")
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except CookieError:  # a malformed Cookie header: as if none
            cookies = SimpleCookie()
        cookie = cookies[COOKIE].value if COOKIE in cookies else None
        bearer = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        if self._ok(query[0]):
            await self.app(scope, receive, self._setting_cookie(send))
        elif self._ok(bearer) or self._ok(cookie):
            await self.app(scope, receive, send)
        else:
            await _refuse(send)

    def _setting_cookie(self, send: Any) -> Any:
        value = f"{COOKIE}={self._token.decode()}; HttpOnly; SameSite=Strict; Path=/"

        async def with_cookie(message: Any) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"set-cookie", value.encode())]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return with_cookie


async def _refuse(send: Any) -> None:
    body = b"a token is required: open the URL the dashboard printed when it started\n"
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", b"Bearer"),
    ]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})
