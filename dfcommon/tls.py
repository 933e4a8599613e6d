"""TLS helpers: server contexts for the gevent listeners, client verification settings, test certificates.

``server_context(cert, key)`` builds the context a :class:`gevent.pywsgi.WSGIServer` takes as
``ssl_context=``; ``client_verify(ca_files)`` is the ``verify=`` value for a requests session
(a CA bundle path, or True for the system roots). ``make_test_pki`` writes a small CA and a server
certificate for given names (used by tests and by operators trying the set-up out).
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
from typing import Iterable

from dfcommon.errors import ConfigError


def check_pair(cert: str, key: str, what: str) -> None:
    """Both or neither of cert and key; both files readable."""
    if bool(cert) != bool(key):
        raise ConfigError(f"{what}: a TLS certificate and its key go together (set both or neither)")
    for path in (cert, key):
        if path and not os.path.isfile(path):
            raise ConfigError(f"{what}: {path} does not exist")


def server_context(cert: str, key: str, client_ca: str = "", cooperative: bool = True) -> ssl.SSLContext:
    """A TLS server context (TLS 1.2+) from PEM files; ``client_ca`` asks clients for certificates.

    ``cooperative``: gevent's SSLContext, whose sockets yield to the hub instead of blocking it (what the
    gevent servers need even in a process that did not patch ``ssl``)."""
    factory = ssl.SSLContext
    if cooperative:
        from gevent import ssl as gevent_ssl
        factory = gevent_ssl.SSLContext
    ctx = factory(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
        if client_ca:
            ctx.load_verify_locations(client_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"cannot load TLS certificate {cert} / key {key}: {e}") from None
    return ctx


def client_context(ca_files: Iterable[str] = (), insecure: bool = False) -> ssl.SSLContext:
    """A TLS client context trusting the system roots plus ``ca_files``."""
    ctx = ssl.create_default_context()
    for path in ca_files:
        try:
            ctx.load_verify_locations(path)
        except (OSError, ssl.SSLError) as e:
            raise ConfigError(f"cannot load CA certificate {path}: {e}") from None
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def client_verify(ca_files: Iterable[str] = (), bundle_dir: str | None = None):
    """The ``verify=`` value for requests: True (system roots) or a bundle file of the given CAs.

    Several files are concatenated into one bundle under ``bundle_dir`` (a temp dir by default)."""
    files = [f for f in ca_files if f]
    if not files:
        return True
    for path in files:
        if not os.path.isfile(path):
            raise ConfigError(f"CA certificate {path} does not exist")
    if len(files) == 1:
        return files[0]
    fd, path = tempfile.mkstemp(prefix=".ca-bundle-", suffix=".pem", dir=bundle_dir)
    with os.fdopen(fd, "wb") as out:
        for f in files:
            with open(f, "rb") as src:
                out.write(src.read().rstrip(b"\n") + b"\n")
    return path


def make_test_pki(directory: str, names: Iterable[str] = ("127.0.0.1", "localhost")) -> dict:
    """Write ``ca.pem``, ``server.pem`` and ``server.key`` (a CA and a leaf for ``names``) into ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dragonfly test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    alt = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, list(names)[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    os.makedirs(directory, exist_ok=True)
    paths = {n: os.path.join(directory, n) for n in ("ca.pem", "server.pem", "server.key")}
    with open(paths["ca.pem"], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths["server.pem"], "wb") as f:
        f.write(leaf.public_bytes(serialization.Encoding.PEM))
    with open(os.open(paths["server.key"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return {"ca": paths["ca.pem"], "cert": paths["server.pem"], "key": paths["server.key"]}
