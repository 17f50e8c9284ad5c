"""A run's TLS material and mosquitto's TLS listener: who may connect, what each may
publish, and what the handshake negotiates."""

from __future__ import annotations

import ipaddress
import shutil
import ssl
import stat
import subprocess
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dthq.errors import UnsupportedError
from dthq.transport.brokers import MosquittoBroker
from dthq.transport.bus import BusError, Message
from dthq.transport.mqtt import MQTTBus
from dthq.transport.tls import TLSMaterial

PARTIES = ("dev-00001", "dev-00002", "gw-1", "cloud")
ACL = {
    "dev-00001": [("write", "t/dev-00001")],
    "dev-00002": [("write", "t/dev-00002")],
    "cloud": [("read", "t/#")],
}


@pytest.fixture(scope="module")
def material() -> TLSMaterial:
    with TLSMaterial(PARTIES) as m:
        yield m


def _cert(path: object) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())  # type: ignore[attr-defined]


def test_certificates_name_their_party_with_p256_keys(material: TLSMaterial) -> None:
    assert stat.S_IMODE(material.directory.stat().st_mode) == 0o700
    assert sorted(material.clients) == sorted(PARTIES)
    for party, (cert_path, key_path) in material.clients.items():
        cert = _cert(cert_path)
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == party
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
        assert cert.public_key().curve.name == "secp256r1"
        assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    server = _cert(material.server[0])
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    ca = _cert(material.ca)
    assert server.issuer == ca.subject
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_client_contexts_are_tls13_only_and_verify_the_broker(material: TLSMaterial) -> None:
    context = material.client_context("gw-1")
    assert context.minimum_version is ssl.TLSVersion.TLSv1_3
    assert context.maximum_version is ssl.TLSVersion.TLSv1_3
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    with pytest.raises(UnsupportedError, match="no client certificate for 'intruder'"):
        material.client_context("intruder")


def test_material_needs_a_party_and_an_acl_goes_with_tls(material: TLSMaterial) -> None:
    with pytest.raises(UnsupportedError, match="at least one party"):
        TLSMaterial([])
    with pytest.raises(UnsupportedError, match="an ACL goes with a TLS listener"):
        MosquittoBroker(acl=ACL)  # checked before the binary is looked for
    with pytest.raises(UnsupportedError, match="ACL entry 'dev-00001'"):
        MosquittoBroker(tls=material, acl={"dev-00001": [("publish", "t/dev-00001")]})
    with pytest.raises(UnsupportedError, match="ACL entry 'dev-00001'"):
        MosquittoBroker(tls=material, acl={"dev-00001": [("write", "t/a b")]})


@pytest.fixture(scope="module")
def broker(material: TLSMaterial) -> MosquittoBroker:
    with MosquittoBroker(tls=material, acl=ACL) as b:
        yield b


def _bus(broker: MosquittoBroker, name: str, context: ssl.SSLContext | None) -> MQTTBus:
    return MQTTBus(broker.url, f"{name}-{threading.get_ident()}", protocol=5, tls=context)


@pytest.mark.requires("mosquitto")
def test_listener_refuses_a_client_without_a_certificate(
    broker: MosquittoBroker, material: TLSMaterial
) -> None:
    bare = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    bare.load_verify_locations(cafile=material.ca)
    with pytest.raises(BusError, match="refused the connection"):
        _bus(broker, "bare", bare)
    with pytest.raises(BusError, match="refused the connection"):
        _bus(broker, "plain", None)  # plain MQTT on the TLS port


@pytest.mark.requires("mosquitto")
def test_a_device_publishes_only_on_its_own_topic(
    broker: MosquittoBroker, material: TLSMaterial
) -> None:
    got: list[tuple[str, bytes]] = []
    arrived = threading.Event()

    def take(m: Message) -> None:
        got.append((m.topic, m.payload))
        if m.payload == b"last":
            arrived.set()

    cloud = _bus(broker, "cloud", material.client_context("cloud"))
    device = _bus(broker, "dev1", material.client_context("dev-00001"))
    try:
        cloud.subscribe("t/#", take)
        # mosquitto acknowledges a publish its ACL denies, and drops it
        assert device.publish_acked("t/dev-00002", b"forged", 1, 5)
        assert device.publish_acked("t/dev-00001", b"last", 1, 5)
        assert arrived.wait(5)
        assert got == [("t/dev-00001", b"last")]
    finally:
        device.close()
        cloud.close()


@pytest.mark.requires("mosquitto")
@pytest.mark.parametrize("groups", [(), ("-groups", "X25519")], ids=["default", "x25519"])
def test_the_handshake_is_tls13_over_x25519(
    broker: MosquittoBroker, material: TLSMaterial, groups: tuple[str, ...]
) -> None:
    """The system OpenSSL's default group list (the one Python's ssl offers) leads with
    X25519, and the broker takes it."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command-line tool is not installed")
    cert, key = material.clients["dev-00001"]
    pair = ("-CAfile", str(material.ca), "-cert", str(cert), "-key", str(key))
    out = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{broker.port}", "-tls1_3", *groups, *pair],
        input="",
        capture_output=True,
        text=True,
        timeout=20,
    ).stdout
    assert "Server Temp Key: X25519, 253 bits" in out
    assert "TLSv1.3" in out
    assert "Verify return code: 0 (ok)" in out


@pytest.mark.requires("mosquitto")
def test_a_client_cannot_take_another_identity_s_client_id(
    broker: MosquittoBroker, material: TLSMaterial
) -> None:
    """The broker makes the certificate's name the client id: a device that connects
    under the gateway's id does not take the gateway's connection (or its session)."""
    gateway = MQTTBus(broker.url, "dthq-gw-1-run", protocol=5, tls=material.client_context("gw-1"))
    try:
        impostor = MQTTBus(
            broker.url, "dthq-gw-1-run", protocol=5, tls=material.client_context("dev-00001")
        )
        impostor.close()
        assert gateway.connected and gateway.stats.disconnects == 0
    finally:
        gateway.close()
