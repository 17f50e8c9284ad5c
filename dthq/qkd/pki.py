"""A small certificate authority for the key manager's mutual TLS (provisioning, not timed).

ETSI GS QKD 014 has each SAE prove who it is with a client certificate; the KME reads
the SAE ID from it. Here one CA signs the server's certificate (for 127.0.0.1 and
localhost) and one client certificate per SAE whose common name is the SAE ID.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dthq.errors import DTHQError

_START = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
_LIFETIME = datetime.timedelta(days=3650)


@dataclass(frozen=True)
class PKI:
    """Where the PEM files live: the CA, the server's pair and each SAE's pair."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def server(self) -> tuple[Path, Path]:
        return self.directory / "kme.pem", self.directory / "kme.key"

    def client(self, sae_id: str) -> tuple[Path, Path]:
        return self.directory / f"{sae_id}.pem", self.directory / f"{sae_id}.key"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _usage(**granted: bool) -> x509.KeyUsage:
    flags = [
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    ]
    return x509.KeyUsage(**{flag: granted.get(flag, False) for flag in flags})


def _write(path: Path, data: bytes, private: bool = False) -> None:
    # Keys are created 0600 rather than chmod-ed afterwards, so they are never readable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _issue(
    subject: str,
    issuer: x509.Name,
    signer: ec.EllipticCurvePrivateKey | None,  # None: self-signed
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_START)
        .not_valid_after(_START + _LIFETIME)
    )
    # Key identifiers: strict verifiers (Python 3.13's default) want them on every cert.
    builder = builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
    )
    if signer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
        )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signer or key, hashes.SHA256()), key


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_pki(directory: Path, sae_ids: list[str]) -> PKI:
    """Create the CA, the server's certificate and one client certificate per SAE.

    An existing PKI in ``directory`` is reused when it holds everything asked for, so a
    restarted server keeps its clients' certificates valid.
    """
    pki = PKI(Path(directory))
    wanted = [pki.ca, *pki.server, *(p for sae in sae_ids for p in pki.client(sae))]
    if all(p.exists() for p in wanted):
        return pki
    if pki.ca.exists():
        raise DTHQError(
            f"{pki.directory} holds a CA but not every certificate asked for "
            f"({', '.join(p.name for p in wanted if not p.exists())}); "
            "use an empty directory to make a new PKI"
        )
    pki.directory.mkdir(parents=True, exist_ok=True)
    root = _name("DTHQ bench KME test CA")
    ca_cert, ca_key = _issue(
        "DTHQ bench KME test CA",
        root,
        None,
        [
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (_usage(key_cert_sign=True, crl_sign=True), True),
        ],
    )
    _write(pki.ca, _pem(ca_cert))
    leaf = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (_usage(digital_signature=True), True),
    ]
    server_cert, server_key = _issue(
        "kme",
        root,
        ca_key,
        [
            *leaf,
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                False,
            ),
        ],
    )
    _write(pki.server[0], _pem(server_cert))
    _write(pki.server[1], _key_pem(server_key), private=True)
    for sae in sae_ids:
        cert, key = _issue(
            sae,
            root,
            ca_key,
            [*leaf, (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)],
        )
        _write(pki.client(sae)[0], _pem(cert))
        _write(pki.client(sae)[1], _key_pem(key), private=True)
    return pki


def common_name(cert_pem: str) -> str | None:
    """The subject common name of a PEM certificate (the SAE ID), or None if it has none."""
    names = x509.load_pem_x509_certificate(cert_pem.encode()).subject.get_attributes_for_oid(
        NameOID.COMMON_NAME
    )
    return str(names[0].value) if names else None
