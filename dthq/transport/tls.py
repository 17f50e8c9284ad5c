"""A run's TLS material: its own CA, the broker's certificate, one client certificate
per party, and the client side's ``ssl.SSLContext``.

Everything is ECDSA P-256, made with ``cryptography`` into a 0700 temporary directory
that lives as long as the :class:`TLSMaterial` (``close`` removes it). The broker's
certificate names 127.0.0.1 as an IP SAN (the brokers here listen on loopback only);
each client certificate's CN is the party's id, which the broker takes as its user
name (mosquitto's ``use_identity_as_username``) so an ACL can bind topics to it.

Client contexts speak TLS 1.3 only and verify the broker against the run's CA. The key
exchange group is what the system OpenSSL (3.0 on Debian) offers first: X25519. It has
no ML-KEM, so X25519MLKEM768 cannot be negotiated here.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dthq.errors import UnsupportedError

BROKER_HOST = "127.0.0.1"
VALID_FOR = datetime.timedelta(days=2)  # a run's material: long enough for a soak
_CLOCK_SLACK = datetime.timedelta(minutes=5)


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "DTHQ bench run"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _context(ca: Path, cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_3
    context.load_verify_locations(cafile=ca)
    context.load_cert_chain(cert, key)
    return context


def client_context_in(directory: Path, party: str) -> ssl.SSLContext:
    """``party``'s context from a :class:`TLSMaterial`'s directory, in another process
    of the same run (the files are the run's own, 0600 in a 0700 directory)."""
    cert, key = directory / f"{party}.pem", directory / f"{party}.key"
    if not cert.is_file() or not key.is_file():
        raise UnsupportedError(f"no client certificate for {party!r} in {directory}")
    return _context(directory / "ca.pem", cert, key)


class TLSMaterial:
    """The CA, the broker's pair and each party's pair, as PEM files in ``directory``."""

    def __init__(self, parties: Iterable[str], host: str = BROKER_HOST) -> None:
        names = list(dict.fromkeys(parties))
        if not names:
            raise UnsupportedError("TLS material needs at least one party")
        self._tmp = tempfile.TemporaryDirectory(prefix="dthq-tls-")
        self.directory = Path(self._tmp.name)
        self.directory.chmod(0o700)
        now = datetime.datetime.now(datetime.UTC) - _CLOCK_SLACK
        self._now = now
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = _name("DTHQ run CA")
        ca = (
            self._builder(ca_name, ca_name, self._ca_key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._ca_key, hashes.SHA256())
        )
        self._ca_name = ca_name
        self.ca = self.directory / "ca.pem"
        self.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))])
        self.server = self._issue("broker", ExtendedKeyUsageOID.SERVER_AUTH, san)
        self.clients = {
            party: self._issue(party, ExtendedKeyUsageOID.CLIENT_AUTH) for party in names
        }

    def _builder(
        self, subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePublicKey
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._now)
            .not_valid_after(self._now + VALID_FOR)
        )

    def _issue(
        self,
        common: str,
        usage: x509.ObjectIdentifier,
        san: x509.SubjectAlternativeName | None = None,
    ) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            self._builder(_name(common), self._ca_name, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if san is not None:
            builder = builder.add_extension(san, critical=False)
        cert = builder.sign(self._ca_key, hashes.SHA256())
        cert_path, key_path = self.directory / f"{common}.pem", self.directory / f"{common}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, key_path)
        return cert_path, key_path

    def client_context(self, party: str) -> ssl.SSLContext:
        """TLS 1.3 only, the broker verified against this run's CA, ``party``'s own pair."""
        try:
            cert, key = self.clients[party]
        except KeyError:
            raise UnsupportedError(f"no client certificate for {party!r} in this run") from None
        return _context(self.ca, cert, key)

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> TLSMaterial:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
