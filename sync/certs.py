"""Certificates for the brokers' TLS: head office's CA, a broker's server certificate, and one client
certificate per store (and for head office's publisher). The broker runs with
`require_certificate true`: a client without a certificate the CA signed is refused during the
TLS handshake, before its password is even read. `signage certs ...` wraps these (docs/sync.md).
"""
from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
CERT_DAYS = 825          # what browsers and most TLS stacks accept for a leaf certificate


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "signage"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(folder: Path, stem: str, key, cert: x509.Certificate) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = folder / f"{stem}.key", folder / f"{stem}.crt"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def _load(folder: Path, stem: str):
    key = serialization.load_pem_private_key((folder / f"{stem}.key").read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate((folder / f"{stem}.crt").read_bytes())
    return key, cert


def make_ca(folder: Path, name: str = "signage head office CA") -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return _write(Path(folder), "ca", key, cert)[0]


def _issue(ca_folder: Path, out: Path, stem: str, cn: str, server: bool, hosts: list[str]) -> tuple[Path, Path]:
    ca_key, ca_cert = _load(Path(ca_folder), "ca")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_cert.subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                               else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
    if hosts:
        alt = []
        for h in hosts:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                alt.append(x509.DNSName(h))
        b = b.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return _write(Path(out), stem, key, b.sign(ca_key, hashes.SHA256()))


def make_server(ca_folder: Path, out: Path, hosts: list[str], stem: str = "broker") -> tuple[Path, Path]:
    """The broker's certificate, valid for these host names and IP addresses."""
    if not hosts:
        raise ValueError("a broker certificate needs the host names or addresses stores connect to")
    return _issue(ca_folder, out, stem, hosts[0], True, hosts)


def make_client(ca_folder: Path, out: Path, client: str) -> tuple[Path, Path]:
    """A store's (or head office's) client certificate; its common name is the client's id."""
    return _issue(ca_folder, out, client, client, False, [])


def make(command: str, folder: Path, *, out: Path | None = None, hosts: list[str] | None = None,
         client: str | None = None, force: bool = False) -> dict[str, str]:
    """`signage certs ca|broker|client`: what was written, by role. A client is a store id or
    head office's user; a second CA only with `force` (every certificate was signed with the first)."""
    from edge.errors import SignageError
    from edge.ids import HQ_USER, store_id_problem
    if command == "ca":
        if (folder / "ca.key").exists() and not force:
            raise SignageError(f"{folder / 'ca.key'} exists: every certificate was signed with it (--force to replace)")
        return {"ca": str(make_ca(folder))}
    if not (folder / "ca.key").is_file():
        raise SignageError(f"no CA in {folder}: run `signage certs ca --dir {folder}` first")
    if command == "broker":
        return dict(zip(("cert", "key"), map(str, make_server(folder, Path(out or folder), hosts or []))))
    why = None if client == HQ_USER else store_id_problem(client or "")
    if why:
        raise SignageError(f"{why}: a client certificate is for a store or for head office ({HQ_USER})")
    return dict(zip(("cert", "key"), map(str, make_client(folder, Path(out or folder), client))))
