"""Header parsing, Basic parsing, TLS settings and the docker config source (docker SDK, real files)."""
import base64
import json
import logging

import pytest
from werkzeug.datastructures import Headers

from dfdaemon.mirror.credentials import DockerConfigSource, client_authorization, parse_basic, tls_verify

B64 = base64.b64encode(b"alice:s3cret-pw").decode()


@pytest.mark.parametrize("headers,expected", [
    ({"Authorization": "Bearer x"}, "Bearer x"),
    ({"authorization": "  Basic y  "}, "Basic y"),
    ([("Accept", "a"), ("AUTHORIZATION", "Bearer z")], "Bearer z"),
    (Headers([("Authorization", "Bearer w")]), "Bearer w"),
    ({"Authorization": ""}, None),
    ({}, None),
    (None, None),
])
def test_client_authorization(headers, expected):
    assert client_authorization(headers) == expected


def test_parse_basic():
    creds = parse_basic("Basic " + B64)
    assert (creds.username, creds.password) == ("alice", "s3cret-pw")
    assert parse_basic("Bearer " + B64) is None
    assert parse_basic("Basic !!notbase64") is None
    assert parse_basic("Basic " + base64.b64encode(b"no-colon").decode()) is None


def test_tls_verify():
    class U:
        insecure, ca_file = False, None
    u = U()
    assert tls_verify(u) is True
    u.ca_file = "/etc/ca.pem"
    assert tls_verify(u) == "/etc/ca.pem"
    u.insecure = True
    assert tls_verify(u) is False


def _write(path, doc):
    path.write_text(json.dumps(doc))
    return str(path)


def test_docker_config_auth_entries(tmp_path):
    src = DockerConfigSource(_write(tmp_path / "config.json", {"auths": {
        "https://reg.example:5000/v1/": {"auth": B64},
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hubuser:hubpw").decode()},
        "tok.example": {"identitytoken": "refresh-abc"}}}))
    c = src.get("reg.example:5000")
    assert (c.username, c.password) == ("alice", "s3cret-pw")
    hub = src.get("registry-1.docker.io")
    assert (hub.username, hub.password) == ("hubuser", "hubpw")
    tok = src.get("tok.example")
    assert tok.refresh_token == "refresh-abc" and not tok.password
    assert src.get("unknown.example") is None


def test_docker_config_missing_or_malformed(tmp_path, caplog):
    assert DockerConfigSource(str(tmp_path / "absent.json")).get("reg") is None
    bad = tmp_path / "bad.json"
    bad.write_text('{"auths": {"reg": "' + B64 + '"}}')
    caplog.set_level(logging.DEBUG)
    assert DockerConfigSource(str(bad)).get("reg") is None
    assert B64 not in caplog.text


def test_credentials_read_at_run_time_are_registered_with_the_redaction(tmp_path):
    from dfdaemon.mirror.redact import install_redaction, uninstall_redaction
    uninstall_redaction()
    red = install_redaction()
    try:
        src = DockerConfigSource(_write(tmp_path / "config.json", {"auths": {"reg:5000": {"auth": B64}}}))
        assert red.redact("pw is s3cret-pw") == "pw is s3cret-pw"
        src.get("reg:5000")
        assert red.redact("pw is s3cret-pw") == "pw is ***"
    finally:
        uninstall_redaction()
