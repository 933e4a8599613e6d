"""Certificates for HTTPS interception: CA generation, per-host leaf certificates, their cache.

A :class:`CertAuthority` loads ``hijack_https.cert``/``key``. When the certificate is a CA
(basic constraints ``ca=true``) it issues a leaf certificate per intercepted host (subject
alternative name = the host, DNS name or IP address), keeps the 100 most recently used
server contexts and reuses each until its leaf expires. A non-CA certificate is served as
is for every intercepted host.
"""
from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import tempfile
import threading
from collections import OrderedDict

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from gevent import ssl as gssl

from dfcommon.errors import ConfigError

log = logging.getLogger(__name__)

CACHE_SIZE = 100
LEAF_DAYS = 90
RENEW_MARGIN = datetime.timedelta(hours=1)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def new_key(key_type: str = "ec"):
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unknown key type {key_type!r} (valid: ec, rsa)")


def key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def generate_ca(common_name: str, days: int, key_type: str = "ec"):
    """A self-signed CA certificate valid for ``days``; returns ``(key, cert)`` objects."""
    key = new_key(key_type)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dragonfly dfdaemon")])
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return x509.DNSName(host)


def issue_leaf(ca_key, ca_cert: x509.Certificate, host: str, days: int = LEAF_DAYS):
    """A server certificate for ``host`` signed by the CA; returns ``(key, cert)``."""
    key = new_key("ec")
    now = _now()
    not_after = min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host[:64])])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                         crl_sign=False, content_commitment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([_san(host)]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def _spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def server_context(chain_pem: bytes, private_pem: bytes) -> gssl.SSLContext:
    """A TLS server context (cooperative under gevent) from PEM bytes."""
    ctx = gssl.SSLContext(gssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = gssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    fd, path = tempfile.mkstemp(prefix="dfdaemon-leaf-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(chain_pem + private_pem)
        ctx.load_cert_chain(path)
    finally:
        os.unlink(path)
    return ctx


class CertAuthority:
    """Serves TLS contexts per intercepted host from the configured certificate and key."""

    def __init__(self, cert_path: str, key_path: str, cache_size: int = CACHE_SIZE, leaf_days: int = LEAF_DAYS):
        try:
            with open(cert_path, "rb") as fh:
                self.cert_bytes = fh.read()
            with open(key_path, "rb") as fh:
                self.key_bytes = fh.read()
            self.cert = x509.load_pem_x509_certificate(self.cert_bytes)
            self.key = serialization.load_pem_private_key(self.key_bytes, password=None)
        except (OSError, ValueError, TypeError) as e:
            raise ConfigError(f"hijack_https: cannot load cert {cert_path!r} / key {key_path!r}: {e}") from None
        if _spki(self.cert.public_key()) != _spki(self.key.public_key()):
            raise ConfigError(f"hijack_https: key {key_path!r} does not belong to cert {cert_path!r}")
        try:
            bc = self.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            self.is_ca = bool(bc.ca)
        except x509.ExtensionNotFound:
            self.is_ca = False
        self.cache_size, self.leaf_days = cache_size, leaf_days
        self._cache: OrderedDict[str, tuple] = OrderedDict()
        self._lock = threading.Lock()
        self._static = None
        self.issued = 0

    def _fresh(self, not_after) -> bool:
        return _now() + RENEW_MARGIN < not_after

    def leaf(self, host: str):
        """``(ssl_context, certificate)`` for ``host``: from the cache while valid, else newly issued."""
        host = host.lower()
        with self._lock:
            if not self.is_ca:
                if self._static is None:
                    self._static = (server_context(self.cert_bytes, self.key_bytes), self.cert)
                return self._static
            hit = self._cache.get(host)
            if hit is not None and self._fresh(hit[1].not_valid_after_utc):
                self._cache.move_to_end(host)
                return hit
            key, cert = issue_leaf(self.key, self.cert, host, self.leaf_days)
            entry = (server_context(cert_pem(cert) + self.cert_bytes, key_pem(key)), cert)
            self.issued += 1
            self._cache[host] = entry
            self._cache.move_to_end(host)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
            log.info("issued leaf certificate host=%s not_after=%s", host, cert.not_valid_after_utc.isoformat())
            return entry

    def context_for(self, host: str) -> gssl.SSLContext:
        return self.leaf(host)[0]

    def cached_hosts(self) -> list[str]:
        with self._lock:
            return list(self._cache)
