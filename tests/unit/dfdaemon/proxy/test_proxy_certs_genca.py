"""`dfdaemon gen-ca` output, leaf certificates verified with cryptography, and the leaf cache."""
from __future__ import annotations

import datetime
import ipaddress
import os
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from dfcommon.errors import ConfigError
from dfdaemon.proxy.certs import CertAuthority, cert_pem, issue_leaf, key_pem
from dfdaemon.proxy.gen_ca import main


@pytest.fixture
def ca_files(tmp_path):
    crt, key = tmp_path / "ca.crt", tmp_path / "ca.key"
    assert main(["--cert", str(crt), "--key", str(key), "--common-name", "Test CA", "--days", "30"]) == 0
    return str(crt), str(key)


def load(path):
    with open(path, "rb") as fh:
        return x509.load_pem_x509_certificate(fh.read())


def test_gen_ca_writes_a_ca(tmp_path, capsys):
    crt, key = str(tmp_path / "ca.crt"), str(tmp_path / "ca.key")
    assert main(["--cert", crt, "--key", key, "--common-name", "Test CA", "--days", "30"]) == 0
    cert = load(crt)
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "Test CA"
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    cert.verify_directly_issued_by(cert)                    # self-signed
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert datetime.timedelta(days=30) <= life <= datetime.timedelta(days=30, hours=2)
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    with open(key, "rb") as fh:
        serialization.load_pem_private_key(fh.read(), password=None)
    assert "wrote CA certificate" in capsys.readouterr().out


def test_gen_ca_refuses_to_overwrite_without_force(ca_files, capsys):
    crt, key = ca_files
    before = open(crt, "rb").read()
    assert main(["--cert", crt, "--key", key]) == 1
    assert "already exist" in capsys.readouterr().err and open(crt, "rb").read() == before
    assert main(["--cert", crt, "--key", key, "--force", "--key-type", "rsa"]) == 0
    assert open(crt, "rb").read() != before


@pytest.mark.parametrize("args, code, words", [
    (["--days", "0"], 2, "--days must be a positive"),
    (["--days", "soon"], 2, "invalid int value"),
    (["--common-name", " "], 2, "--common-name must not be empty"),
    (["--bogus"], 2, "unrecognized arguments"),
    (["--cert", "/no/such/dir/ca.crt"], 1, "does not exist"),
])
def test_gen_ca_bad_arguments(tmp_path, capsys, args, code, words):
    base = ["--cert", str(tmp_path / "c.crt"), "--key", str(tmp_path / "c.key")]
    assert main(base + args) == code
    assert words in capsys.readouterr().err


def test_gen_ca_help_exits_zero(capsys):
    assert main(["--help"]) == 0
    assert "--common-name" in capsys.readouterr().out


@pytest.mark.parametrize("host, san", [
    ("registry.example.com", x509.DNSName("registry.example.com")),
    ("127.0.0.1", x509.IPAddress(ipaddress.ip_address("127.0.0.1"))),
    ("::1", x509.IPAddress(ipaddress.ip_address("::1"))),
])
def test_leaf_verifies_against_the_ca_with_the_right_san(ca_files, host, san):
    crt, key = ca_files
    authority = CertAuthority(crt, key)
    ctx, leaf = authority.leaf(host)
    leaf.verify_directly_issued_by(load(crt))
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert list(sans) == [san]
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.not_valid_after_utc <= load(crt).not_valid_after_utc
    assert ctx is not None


def test_leaf_cache_reuses_and_evicts(ca_files):
    crt, key = ca_files
    authority = CertAuthority(crt, key, cache_size=3)
    first = authority.leaf("a.example")
    assert authority.leaf("A.example") is first and authority.issued == 1
    for host in ("b.example", "c.example", "d.example"):
        authority.leaf(host)
    assert authority.cached_hosts() == ["b.example", "c.example", "d.example"]
    assert authority.leaf("a.example") is not first and authority.issued == 5


def test_expired_leaf_is_reissued(ca_files):
    crt, key = ca_files
    authority = CertAuthority(crt, key)
    k, c = issue_leaf(authority.key, authority.cert, "old.example", days=0)     # expires now
    authority._cache["old.example"] = (None, c)
    ctx, leaf = authority.leaf("old.example")
    assert ctx is not None and leaf.serial_number != c.serial_number and authority.issued == 1


def test_non_ca_certificate_is_served_for_every_host(ca_files, tmp_path):
    crt, key = ca_files
    authority = CertAuthority(crt, key)
    k, c = issue_leaf(authority.key, authority.cert, "static.example")
    (tmp_path / "leaf.crt").write_bytes(cert_pem(c))
    (tmp_path / "leaf.key").write_bytes(key_pem(k))
    static = CertAuthority(str(tmp_path / "leaf.crt"), str(tmp_path / "leaf.key"))
    assert not static.is_ca
    assert static.leaf("x.example") is static.leaf("y.example") and static.issued == 0


def test_mismatched_or_unreadable_files_are_config_errors(ca_files, tmp_path):
    crt, key = ca_files
    other = tmp_path / "o"
    other.mkdir()
    assert main(["--cert", str(other / "o.crt"), "--key", str(other / "o.key")]) == 0
    with pytest.raises(ConfigError, match="does not belong"):
        CertAuthority(crt, str(other / "o.key"))
    (tmp_path / "junk.crt").write_text("not a cert")
    with pytest.raises(ConfigError, match="cannot load"):
        CertAuthority(str(tmp_path / "junk.crt"), key)
