"""AccessGuard and UpstreamAuth against a real htpasswd (Basic-only) docker-registry."""
import pytest

from dfcommon.errors import DfError
from dfdaemon.mirror.access import AccessGuard
from dfdaemon.mirror.credentials import UpstreamAuth
from tests.fixtures.oci_image import build_oci_image

from .access_env import PRIVATE, Up, basic

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def layer(registry_basic, tmp_path_factory):
    img = build_oci_image(str(tmp_path_factory.mktemp("accbimg")), tag="v1", layers=1, layer_size=32_000, seed=72)
    registry_basic.push(img, PRIVATE)
    return img.layers[0].digest


def test_client_basic_credentials_allowed(registry_basic, layer):
    AccessGuard().check(Up(registry_basic.url), PRIVATE, layer, {"Authorization": basic("testuser", "testpass")})


def test_wrong_basic_credentials_relay_the_basic_challenge(registry_basic, layer):
    with pytest.raises(DfError) as ei:
        AccessGuard().check(Up(registry_basic.url), PRIVATE, layer, {"Authorization": basic("testuser", "bad")})
    assert ei.value.code == "UNAUTHORIZED"
    assert ei.value.detail["www_authenticate"].lower().startswith("basic realm=")


def test_no_authorization_without_configured_credentials_is_unauthorized(registry_basic, layer):
    with pytest.raises(DfError) as ei:
        AccessGuard().check(Up(registry_basic.url), PRIVATE, layer, {})
    assert ei.value.code == "UNAUTHORIZED"
    assert 'Basic realm="basic-realm"' in ei.value.detail["www_authenticate"]


def test_no_authorization_with_configured_credentials_is_allowed(registry_basic, layer):
    AccessGuard().check(Up(registry_basic.url, credentials=("testuser", "testpass")), PRIVATE, layer, {})


def test_resolve_authorization_gives_basic_for_basic_only_registries(registry_basic):
    auth = UpstreamAuth()
    up = Up(registry_basic.url, credentials=("testuser", "testpass"))
    assert auth.resolve_authorization(up, {}, PRIVATE) == basic("testuser", "testpass")
    assert auth.resolve_authorization(Up(registry_basic.url), {}, PRIVATE) is None
    assert auth.resolve_authorization(up, {"Authorization": "Bearer mine"}, PRIVATE) == "Bearer mine"
