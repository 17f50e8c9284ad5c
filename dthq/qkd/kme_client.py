"""An SAE's client for the key manager over HTTPS (standard library only).

:class:`KMEClient` has the in-process :class:`~dthq.qkd.kme.KeyManager`'s three ETSI
calls, so ``SAEKeys(KMEClient(...), ...)`` is the handshake's KeyProvider backed by
``dthq kme serve``: the same seam, over the network.
"""

from __future__ import annotations

import http.client
import json
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dthq.qkd.kme import KeyManagerError, SAEKeys
from dthq.qkd.kme_api import PREFIX
from dthq.qkd.pki import PKI


class KMEClient:
    """One SAE's mutual-TLS connection to the key manager."""

    def __init__(self, base_url: str, pki: PKI, sae_id: str, timeout_s: float = 30.0) -> None:
        url = urlsplit(base_url)
        if url.scheme != "https" or not url.hostname or url.port is None:
            raise KeyManagerError(
                f"the key manager's URL must be https://host:port, got {base_url!r}"
            )
        self.host, self.port, self.timeout_s = url.hostname, url.port, timeout_s
        self.sae_id = sae_id
        self.context = ssl.create_default_context(cafile=str(pki.ca))
        self.context.load_cert_chain(*map(str, pki.client(sae_id)))
        self._conn: http.client.HTTPSConnection | None = None  # kept alive between calls

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """The JSON answer, or a :class:`KeyManagerError` carrying the status and message."""
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload else {}
        for attempt in (1, 2):
            reused = self._conn is not None
            if self._conn is None:
                self._conn = http.client.HTTPSConnection(
                    self.host, self.port, context=self.context, timeout=self.timeout_s
                )
            try:
                self._conn.request(method, PREFIX + path, body=payload, headers=headers)
                response = self._conn.getresponse()
                raw = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self.close()
                # A kept-alive connection the server had already closed: the request never
                # reached it, so sending it once more cannot hand out a key twice.
                if not reused or attempt == 2:
                    raise self._unreachable(exc) from None
            except OSError as exc:  # refused, TLS failure, timeout
                self.close()
                raise self._unreachable(exc) from None
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        if response.status != 200 or answer is None:
            message = answer.get("message") if isinstance(answer, dict) else raw[:200]
            raise KeyManagerError(
                f"key manager answered {response.status}: {message!r}", response.status
            )
        return answer

    def _unreachable(self, exc: OSError) -> KeyManagerError:
        return KeyManagerError(
            f"key manager at https://{self.host}:{self.port} unreachable: {exc}", 503
        )

    # --- the ETSI GS QKD 014 calls, as KeyManager has them -------------------------------

    def status(self, sae_id: str, *, caller: str = "") -> dict[str, Any]:
        self._as(caller)
        return self.request("GET", f"/{sae_id}/status")

    def enc_keys(
        self, slave_sae_id: str, number: int = 1, size: int | None = None, *, caller: str = ""
    ) -> dict[str, Any]:
        self._as(caller)
        body = {"number": number} if size is None else {"number": number, "size": size}
        return self.request("POST", f"/{slave_sae_id}/enc_keys", body)

    def dec_keys(
        self, master_sae_id: str, key_ids: list[str], *, caller: str = ""
    ) -> dict[str, Any]:
        self._as(caller)
        body = {"key_IDs": [{"key_ID": key_id} for key_id in key_ids]}
        return self.request("POST", f"/{master_sae_id}/dec_keys", body)

    def _as(self, caller: str) -> None:
        # Over HTTPS the certificate says who calls; a different caller is a mix-up.
        if caller and caller != self.sae_id:
            raise KeyManagerError(
                f"this client holds {self.sae_id!r}'s certificate, not {caller!r}'s"
            )


def remote_keys(url: str, pki_dir: Path) -> tuple[SAEKeys, SAEKeys]:
    """A's and B's KeyProviders over ``dthq kme serve`` at ``url``, each SAE with its own
    certificate from ``pki_dir``."""
    from dthq.schemes.dthq import DEVICE_ID, SERVICE_ID

    pki = PKI(pki_dir)
    a, b = DEVICE_ID.decode(), SERVICE_ID.decode()
    for path in (pki.ca, *pki.client(a), *pki.client(b)):
        if not path.exists():
            raise KeyManagerError(f"{path} is missing: point --pki at `dthq kme serve --pki`")
    return SAEKeys(KMEClient(url, pki, a), a, b), SAEKeys(KMEClient(url, pki, b), b, a)
