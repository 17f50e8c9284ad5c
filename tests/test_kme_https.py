"""Q over HTTPS: ETSI GS QKD 014 paths, JSON and status codes, mutual TLS, schemathesis
against the server's own OpenAPI description, and DTHQ handshakes whose Kq comes from it.
Every key here comes from the SIMULATED BB84 link."""

from __future__ import annotations

import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the HTTPS key manager needs the fastapi extra")
pytest.importorskip("uvicorn", reason="the HTTPS key manager needs the uvicorn extra")

from dthq.qkd.bb84 import QuantumChannel
from dthq.qkd.kme import KeyManager, KeyManagerError, SAEKeys
from dthq.qkd.kme_client import KMEClient
from dthq.qkd.kme_server import serving
from dthq.qkd.pki import PKI, make_pki
from dthq.schemes.dthq import DTHQScheme

pytestmark = pytest.mark.xdist_group("kme-https")  # one PKI, key manager and server
A, B, C = "device-A", "service-B", "device-C"  # C has a valid certificate but no key stream
DATA = Path(__file__).parent / "data"
# A well-formed key ID no key has; fixed, so every xdist worker collects the same tests.
UNISSUED = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"), [A, B, C])


@pytest.fixture(scope="module")
def kme() -> KeyManager:
    return KeyManager(A, B, seed=21, raw_pulses=50_000, max_key_per_request=8)


@pytest.fixture(scope="module")
def url(kme: KeyManager, pki: PKI) -> Iterator[str]:
    with serving(kme, pki) as base:
        yield base


def client(url: str, pki: PKI, sae: str) -> KMEClient:
    return KMEClient(url, pki, sae)


def raw(url: str, pki: PKI, sae: str, method: str, path: str, body: object = None):
    """One request, returning (status, headers, JSON body) without the client's checks."""
    context = ssl.create_default_context(cafile=str(pki.ca))
    context.load_cert_chain(*map(str, pki.client(sae)))
    host, port = url.removeprefix("https://").split(":")
    conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=30)
    try:
        payload = None if body is None else json.dumps(body).encode()
        conn.request(method, "/api/v1/keys" + path, body=payload,
                     headers={"Content-Type": "application/json"})  # fmt: skip
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        conn.close()


def test_status_names_the_pair_and_says_simulated(url: str, pki: PKI, kme: KeyManager) -> None:
    status, headers, body = raw(url, pki, A, "GET", f"/{B}/status")
    assert status == 200 and headers["content-type"] == "application/json"
    assert body.pop("simulated") is True
    live = {"stored_key_count"}  # the pool moves between the two calls
    assert {k: v for k, v in body.items() if k not in live} == {
        k: v for k, v in kme.status(B).items() if k not in live
    }
    assert (body["master_SAE_ID"], body["slave_SAE_ID"]) == (A, B)


def test_keys_reach_the_slave_once_by_id(url: str, pki: PKI) -> None:
    status, _, given = raw(url, pki, A, "GET", f"/{B}/enc_keys?number=2&size=512")
    assert status == 200 and len(given["keys"]) == 2
    ids = [k["key_ID"] for k in given["keys"]]
    status, _, got = raw(url, pki, B, "GET", f"/{A}/dec_keys?key_ID={ids[0]}")
    assert status == 200 and got["keys"] == given["keys"][:1]
    body = {"key_IDs": [{"key_ID": ids[1]}]}
    status, _, got = raw(url, pki, B, "POST", f"/{A}/dec_keys", body)
    assert status == 200 and got["keys"] == given["keys"][1:]
    status, _, error = raw(url, pki, B, "POST", f"/{A}/dec_keys", body)
    assert status == 400 and "already delivered" in error["message"]  # reused


@pytest.mark.parametrize(
    ("sae", "method", "path", "body", "status", "message"),
    [
        (A, "GET", f"/{B}/enc_keys?size=100", None, 400, "multiple of 8"),
        (A, "GET", f"/{B}/enc_keys?size=1024", None, 400, "less than or equal to 512"),
        (A, "POST", f"/{B}/enc_keys", {"number": 9}, 400, "less than or equal to 8"),
        (A, "POST", f"/{B}/enc_keys", {"extension_mandatory": [{"x": 1}]}, 400, "at most 0"),
        (A, "POST", f"/{B}/enc_keys", {"number": "two"}, 400, "valid integer"),
        (B, "POST", f"/{A}/enc_keys", {}, 401, "no key stream"),  # the slave asks as master
        (C, "GET", f"/{B}/status", None, 401, "no key stream"),  # a stranger with a cert
        (A, "GET", "/nobody/status", None, 401, "unknown SAE"),
        (B, "GET", f"/{A}/dec_keys?key_ID={UNISSUED}", None, 400, "unknown"),
        (B, "GET", f"/{A}/dec_keys?key_ID=not-a-uuid", None, 400, "UUID"),
        (B, "POST", f"/{A}/dec_keys", {"key_IDs": []}, 400, "at least 1"),
    ],
)
def test_refusals_have_the_standard_status_and_say_why(
    url: str, pki: PKI, sae: str, method: str, path: str, body: object, status: int, message: str
) -> None:
    got, _, error = raw(url, pki, sae, method, path, body)
    assert got == status
    assert set(error) == {"message", "details"} and message in json.dumps(error)


def test_a_wrong_peer_cannot_take_a_key_and_the_refusal_consumes_nothing(
    url: str, pki: PKI
) -> None:
    key_id = client(url, pki, A).enc_keys(B)["keys"][0]["key_ID"]
    for sae in (A, C):
        with pytest.raises(KeyManagerError, match="another pair") as err:
            client(url, pki, sae).dec_keys(A, [key_id], caller=sae)
        assert err.value.status == 401
    assert client(url, pki, B).dec_keys(A, [key_id])["keys"][0]["key_ID"] == key_id


def test_an_empty_pool_on_a_link_that_aborts_is_503(pki: PKI) -> None:
    noisy = KeyManager(A, B, seed=1, raw_pulses=20_000, channel=QuantumChannel(qber=0.2))
    with serving(noisy, pki) as base:
        status, _, error = raw(base, pki, A, "POST", f"/{B}/enc_keys", {})
    assert status == 503 and "no key available" in error["message"]


def test_405_lists_every_method_of_the_path(url: str, pki: PKI) -> None:
    status, headers, _ = raw(url, pki, A, "DELETE", f"/{B}/enc_keys")
    assert status == 405 and headers["allow"] == "GET, POST"


def _tls_refused(url: str, context: ssl.SSLContext) -> None:
    host, port = url.removeprefix("https://").split(":")
    conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=30)
    try:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            conn.request("GET", f"/api/v1/keys/{B}/status")
            conn.getresponse()  # TLS 1.3: the server's refusal arrives with the first read
    finally:
        conn.close()


def test_a_client_without_a_certificate_is_refused(url: str, pki: PKI) -> None:
    _tls_refused(url, ssl.create_default_context(cafile=str(pki.ca)))


def test_a_certificate_from_another_ca_is_refused(url: str, pki: PKI, tmp_path: Path) -> None:
    other = make_pki(tmp_path, [A])  # same SAE name, signed by a CA the KME does not trust
    context = ssl.create_default_context(cafile=str(pki.ca))
    context.load_cert_chain(*map(str, other.client(A)))
    _tls_refused(url, context)


@pytest.mark.parametrize("mode", ["qkd", "qkd+mlkem"])
def test_a_handshake_takes_kq_from_the_https_key_manager(url: str, pki: PKI, mode: str) -> None:
    providers = (
        SAEKeys(client(url, pki, A), A, B),
        SAEKeys(client(url, pki, B), B, A),
    )
    session = DTHQScheme(mode=mode, key_providers=providers).establish(0)
    assert session.responder.open(session.initiator.seal(b"hr=61", 1), 1) == b"hr=61"


def test_schemathesis_passes_against_the_servers_own_openapi(
    url: str, pki: PKI, tmp_path: Path
) -> None:
    pytest.importorskip("schemathesis", reason="schemathesis is in the test extra")
    cert, key = pki.client(A)
    command = [
        sys.executable, "-m", "schemathesis.cli",
        "--config-file", str(DATA / "kme-schemathesis.toml"),
        "run", f"{url}/openapi.json",
        "--tls-verify", str(pki.ca), "--request-cert", str(cert), "--request-cert-key", str(key),
        "--max-examples", "15", "--seed", "7", "--no-color",
    ]  # fmt: skip
    # cwd: schemathesis keeps its case database in ./.schemathesis
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "5 passed" in done.stdout or "Tested: 5" in done.stdout


def test_dthq_kme_serve_serves_until_interrupted(tmp_path: Path) -> None:
    pki_dir = tmp_path / "pki"
    server = subprocess.Popen(
        [sys.executable, "-m", "dthq.cli", "kme", "serve", "--port", "0", "--pki", str(pki_dir),
         "--seed", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        banner = server.stdout.readline() if server.stdout else ""
        assert "SIMULATED" in banner, banner + (server.stderr.read() if server.stderr else "")
        base = banner.split(" at ")[1].strip()
        status = KMEClient(base, PKI(pki_dir), A).status(B)
        assert status["master_SAE_ID"] == A and status["simulated"] is True
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    assert server.returncode == 0
    assert oct(os.stat(PKI(pki_dir).client(A)[1]).st_mode & 0o777) == "0o600"


def test_dthq_kme_openapi_prints_the_standard_paths() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "dthq.cli", "kme", "openapi"], capture_output=True, text=True
    )
    spec = json.loads(out.stdout)
    assert set(spec["paths"]) == {
        "/api/v1/keys/{slave_SAE_ID}/status",
        "/api/v1/keys/{slave_SAE_ID}/enc_keys",
        "/api/v1/keys/{master_SAE_ID}/dec_keys",
    }
    assert spec["components"]["securitySchemes"]["sae_certificate"]["type"] == "mutualTLS"
    assert all(
        "422" not in op["responses"] for item in spec["paths"].values() for op in item.values()
    )


def _send(url: str, pki: PKI, head: str, body: bytes = b"", sae: str = A) -> tuple[int, bytes]:
    """Raw bytes over mutual TLS: a request line and headers as given, then ``body``;
    returns the status and the response's body (the server closes after a refusal)."""
    import socket

    context = ssl.create_default_context(cafile=str(pki.ca))
    context.load_cert_chain(*map(str, pki.client(sae)))
    host, port = url.removeprefix("https://").split(":")
    with (
        socket.create_connection((host, int(port)), timeout=30) as plain,
        context.wrap_socket(plain, server_hostname=host) as tls,
    ):
        tls.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        response = http.client.HTTPResponse(tls)
        response.begin()
        return response.status, response.read()


def _post_head(path: str, *headers: str) -> str:
    lines = [f"POST /api/v1/keys{path} HTTP/1.1", "Host: localhost",
             "Content-Type: application/json", *headers]  # fmt: skip
    return "\n".join(lines) + "\n"


def _padded(body: dict, size: int) -> bytes:
    """``body`` as JSON, padded with whitespace to exactly ``size`` bytes."""
    data = json.dumps(body).encode()
    return data + b" " * (size - len(data))


def test_the_body_limit_is_stated_and_fits_the_largest_legitimate_request() -> None:
    from dthq.qkd.kme_api import body_limit

    assert body_limit(128) == 16 * 1024 and body_limit(8) == 4864
    largest = {"key_IDs": [{"key_ID": UNISSUED}] * 128}
    assert len(json.dumps(largest, indent=4).encode()) <= body_limit(128)


def test_a_body_at_the_limit_is_read_and_one_past_it_is_413(url: str, pki: PKI) -> None:
    from dthq.qkd.kme_api import body_limit

    cap = body_limit(8)  # the fixture's KME serves 8 keys per request
    body = {"key_IDs": [{"key_ID": UNISSUED}]}
    path = f"/{A}/dec_keys"
    status, answer = _send(url, pki, _post_head(path, f"Content-Length: {cap}"),
                           _padded(body, cap), sae=B)  # fmt: skip
    assert status == 400 and "unknown" in json.loads(answer)["message"]  # read and judged
    status, answer = _send(url, pki, _post_head(path, f"Content-Length: {cap + 1}"),
                           _padded(body, cap + 1), sae=B)  # fmt: skip
    assert status == 413
    assert json.loads(answer)["message"] == (
        f"a request body of {cap + 1} bytes exceeds the {cap}-byte limit"
    )


def test_a_24_mib_content_length_is_refused_before_any_body_byte(url: str, pki: PKI) -> None:
    # No body is sent at all: a server reading it first would wait out the 30 s timeout.
    head = _post_head(f"/{B}/enc_keys", f"Content-Length: {24 << 20}")
    status, answer = _send(url, pki, head)
    assert status == 413 and f"{24 << 20} bytes" in json.loads(answer)["message"]


@pytest.mark.parametrize(
    ("headers", "body", "status", "message"),
    [
        ((), b"", 411, "a POST needs a Content-Length"),
        (("Transfer-Encoding: chunked",), b"2\r\n{}\r\n0\r\n\r\n", 411, "chunked"),
    ],
)
def test_a_post_without_a_length_is_411(
    url: str, pki: PKI, headers: tuple[str, ...], body: bytes, status: int, message: str
) -> None:
    got, answer = _send(url, pki, _post_head(f"/{B}/enc_keys", *headers), body)
    assert got == status and message in json.loads(answer)["message"]


@pytest.mark.parametrize("length", ["12x", "-1", "1, 2"])  # h11 merges "1, 1" into 1
def test_a_malformed_content_length_is_400(url: str, pki: PKI, length: str) -> None:
    status, _ = _send(url, pki, _post_head(f"/{B}/enc_keys", f"Content-Length: {length}"))
    assert status == 400
