"""Credentials from a docker config.json (read through the docker SDK) against real registries."""
import base64
import json

import pytest

from dfdaemon.mirror.access import AccessGuard
from dfdaemon.mirror.credentials import UpstreamAuth
from registry_plugin.oci import TokenVerifier, allows, decode_claims
from tests.fixtures.oci_image import build_oci_image

from .access_env import PRIVATE, Up, basic, private_permissions

pytestmark = pytest.mark.e2e


def _write_config(path, host, user="testuser", password="testpass"):
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    path.write_text(json.dumps({"auths": {f"http://{host}": {"auth": auth}}}))
    return str(path)


@pytest.fixture(scope="module")
def layer(registry_token, tmp_path_factory):
    img = build_oci_image(str(tmp_path_factory.mktemp("acccimg")), tag="v1", layers=1, layer_size=16_000, seed=73)
    registry_token.push(img, PRIVATE)
    return img.layers[0].digest


def test_docker_config_credentials_become_a_bearer_token(registry_token, token_server, tmp_path):
    private_permissions(token_server)
    path = _write_config(tmp_path / "config.json", registry_token.host)
    auth = UpstreamAuth(docker_config_path=path)
    value = auth.resolve_authorization(Up(registry_token.url), {}, PRIVATE)
    assert value.startswith("Bearer ")
    claims = TokenVerifier.from_files(cert_file=token_server.cert_path).verify(value[7:])
    assert claims["sub"] == "testuser" and allows(claims, PRIVATE, "pull")
    # the token is cached: a second resolution asks the token server no more
    asked = token_server.count()
    assert auth.resolve_authorization(Up(registry_token.url), {}, PRIVATE) == value
    assert token_server.count() == asked


def test_guard_uses_docker_config_credentials_for_clients_without_authorization(registry_token, token_server,
                                                                                  layer, tmp_path):
    private_permissions(token_server)
    path = _write_config(tmp_path / "config.json", registry_token.host)
    guard = AccessGuard(upstream_auth=UpstreamAuth(docker_config_path=path))
    guard.check(Up(registry_token.url), PRIVATE, layer, {})
    assert {r.user for r in token_server.requests} == {"testuser"}


def test_configured_credentials_win_over_docker_config(registry_token, token_server, tmp_path):
    path = _write_config(tmp_path / "config.json", registry_token.host, password="stale")
    auth = UpstreamAuth(docker_config_path=path)
    value = auth.resolve_authorization(Up(registry_token.url, credentials=("testuser", "testpass")), {}, PRIVATE)
    assert decode_claims(value[7:])["sub"] == "testuser"


def test_docker_config_is_reread_when_it_changes(registry_basic, tmp_path):
    target = tmp_path / "config.json"
    path = _write_config(target, "elsewhere:5000")
    auth = UpstreamAuth(docker_config_path=path)
    up = Up(registry_basic.url)
    assert auth.resolve_authorization(up, {}, PRIVATE) is None
    _write_config(target, registry_basic.host)
    import os
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert auth.resolve_authorization(up, {}, PRIVATE) == basic("testuser", "testpass")


def test_missing_docker_config_gives_no_credentials(registry_basic, tmp_path):
    auth = UpstreamAuth(docker_config_path=str(tmp_path / "absent.json"))
    assert auth.resolve_authorization(Up(registry_basic.url), {}, PRIVATE) is None
