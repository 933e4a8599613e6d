"""AccessGuard decisions against a real token-auth docker-registry and the test token server."""
import pytest

from dfcommon.errors import DfError
from dfdaemon.mirror.access import AccessGuard, DecisionCache
from registry_plugin.oci import TokenVerifier
from tests.fixtures.oci_image import build_oci_image

from .access_env import (OTHER, PRIVATE, PUBLIC, Up, basic, expired_token, fetch_token, forged_token,
                         private_permissions)

pytestmark = pytest.mark.e2e


class Clock:
    def __init__(self):
        import time
        self._time = time.time
        self.offset = 0.0

    def __call__(self):
        return self._time() + self.offset


@pytest.fixture(scope="module")
def image(registry_token, tmp_path_factory):
    img = build_oci_image(str(tmp_path_factory.mktemp("accimg")), tag="v1", layers=1, layer_size=64_000, seed=71)
    for repo in (PRIVATE, PUBLIC, OTHER):
        registry_token.push(img, repo)
    only = build_oci_image(str(tmp_path_factory.mktemp("accimg2")), tag="v2", layers=1, layer_size=8_000, seed=75)
    registry_token.push(only, PRIVATE)
    img.private_only = only.layers[0].digest
    return img


@pytest.fixture
def env(registry_token, token_server, image, counting_front):
    private_permissions(token_server)
    front = counting_front(registry_token)
    return {"ts": token_server, "front": front, "img": image, "layer": image.layers[0].digest,
            "verifier": TokenVerifier.from_files(cert_file=token_server.cert_path)}


def _guard(**kw):
    return AccessGuard(timeout=(5, 15), **kw)


def _expect(kind, fn, *args):
    with pytest.raises(DfError) as ei:
        fn(*args)
    assert ei.value.code == kind, ei.value.message
    return ei.value


@pytest.mark.parametrize("with_verifier", [False, True])
def test_valid_token_for_the_repository_is_allowed(env, with_verifier):
    up = Up(env["front"].url, verifier=env["verifier"] if with_verifier else None)
    token = fetch_token(env["ts"], PRIVATE)
    guard = _guard()
    guard.check(up, PRIVATE, env["layer"], {"Authorization": f"Bearer {token}"})
    asked = len(env["front"].requests)
    # verified tokens are decided locally, unverified grants by the origin; either way the origin confirms
    # once that the digest is in the repository (one HEAD, no blob body)
    assert asked == 1 and env["front"].requests[0].method == "HEAD"
    guard.check(up, PRIVATE, env["layer"], {"authorization": f"Bearer {token}"})
    assert len(env["front"].requests) == asked
    assert env["front"].served(env["layer"]) == 0


@pytest.mark.parametrize("with_verifier", [False, True])
def test_expired_token_is_unauthorized_with_the_origin_challenge(env, with_verifier):
    up = Up(env["front"].url, verifier=env["verifier"] if with_verifier else None)
    token = expired_token(env["ts"], PRIVATE)
    err = _expect("UNAUTHORIZED", _guard().check, up, PRIVATE, env["layer"], {"Authorization": f"Bearer {token}"})
    www = err.detail["www_authenticate"]
    assert www.startswith("Bearer ") and env["ts"].realm in www and f"repository:{PRIVATE}:pull" in www
    assert 'error="invalid_token"' in www
    assert not any("/blobs/" in r.path for r in env["front"].requests)


@pytest.mark.parametrize("with_verifier", [False, True])
def test_token_for_another_repository_is_denied(env, with_verifier):
    up = Up(env["front"].url, verifier=env["verifier"] if with_verifier else None)
    token = fetch_token(env["ts"], OTHER)
    err = _expect("DENIED", _guard().check, up, PRIVATE, env["layer"], {"Authorization": f"Bearer {token}"})
    assert "insufficient_scope" in err.detail["www_authenticate"]
    assert not any("/blobs/" in r.path for r in env["front"].requests)


def test_anonymous_token_for_a_private_repository_is_denied(env):
    token = fetch_token(env["ts"], PRIVATE, creds=None)   # granted "access": [] by the token server
    _expect("DENIED", _guard().check, Up(env["front"].url), PRIVATE, env["layer"],
            {"Authorization": f"Bearer {token}"})


def test_no_authorization_private_repository_gets_the_origin_401(env):
    err = _expect("UNAUTHORIZED", _guard().check, Up(env["front"].url), PRIVATE, env["layer"], {})
    www = err.detail["www_authenticate"]
    assert www.startswith("Bearer ") and f'scope="repository:{PRIVATE}:pull"' in www
    assert env["ts"].realm in www


def test_no_authorization_public_repository_is_allowed(env):
    _guard().check(Up(env["front"].url), PUBLIC, env["layer"], None)
    assert [r.user for r in env["ts"].requests] == [""]   # an anonymous token, asked once


def test_no_authorization_uses_the_configured_credentials(env):
    up = Up(env["front"].url, credentials=("testuser", "testpass"))
    _guard().check(up, PRIVATE, env["layer"], {})
    assert {r.user for r in env["ts"].requests} == {"testuser"}


def test_wrong_configured_credentials_relay_the_challenge(env):
    up = Up(env["front"].url, credentials=("testuser", "wrong-password"))
    err = _expect("UNAUTHORIZED", _guard().check, up, PRIVATE, env["layer"], {})
    assert err.detail["www_authenticate"].startswith("Bearer ")


def test_opaque_token_is_checked_at_the_origin(env):
    err = _expect("UNAUTHORIZED", _guard().check, Up(env["front"].url), PRIVATE, env["layer"],
                  {"Authorization": "Bearer not-a-jwt-at-all"})
    assert err.detail["www_authenticate"].startswith("Bearer ")
    heads = [r for r in env["front"].requests if r.method == "HEAD"]
    assert heads and all(dict(r.headers).get("Authorization") == "Bearer not-a-jwt-at-all" for r in heads)


@pytest.mark.parametrize("with_verifier", [False, True])
def test_forged_token_is_refused(env, with_verifier):
    up = Up(env["front"].url, verifier=env["verifier"] if with_verifier else None)
    token = forged_token(env["ts"], PRIVATE)
    _expect("UNAUTHORIZED", _guard().check, up, PRIVATE, env["layer"], {"Authorization": f"Bearer {token}"})
    if with_verifier:
        # the signature alone decided: only the challenge (GET /v2/) was read from the origin
        assert [r.path for r in env["front"].requests] == ["/v2/"]


def test_verifier_with_another_certificate_rejects_real_tokens(env, tmp_path):
    from tests.fixtures.tokenserver import make_cert
    _, cert_pem, _ = make_cert("someone-else")
    up = Up(env["front"].url, verifier=TokenVerifier(certs_pem=cert_pem))
    token = fetch_token(env["ts"], PRIVATE)
    _expect("UNAUTHORIZED", _guard().check, up, PRIVATE, env["layer"], {"Authorization": f"Bearer {token}"})


def test_client_basic_credentials_are_exchanged_at_the_origin_token_server(env):
    guard = _guard()
    guard.check(Up(env["front"].url), PRIVATE, env["layer"], {"Authorization": basic("testuser", "testpass")})
    _expect("UNAUTHORIZED", guard.check, Up(env["front"].url), PRIVATE, env["layer"],
            {"Authorization": basic("testuser", "nope")})


@pytest.mark.parametrize("with_verifier", [False, True])
def test_a_grant_on_one_repository_does_not_reach_digests_of_another(env, with_verifier):
    """A public-repository token asking for a private-only layer through the public repository."""
    up = Up(env["front"].url, verifier=env["verifier"] if with_verifier else None)
    guard = _guard()
    headers = {"Authorization": f"Bearer {fetch_token(env['ts'], PUBLIC, creds=None)}"}
    guard.check(up, PUBLIC, env["layer"], headers)                     # shared layer: fine
    _expect("BLOB_UNKNOWN", guard.check, up, PUBLIC, env["img"].private_only, headers)
    _expect("BLOB_UNKNOWN", guard.check, Up(env["front"].url), PUBLIC, env["img"].private_only, {})
    assert env["front"].served(env["img"].private_only) == 0


def test_unknown_digest_is_blob_unknown_and_not_cached(env):
    token = fetch_token(env["ts"], PRIVATE)
    guard = _guard()
    missing = "sha256:" + "0" * 64
    _expect("BLOB_UNKNOWN", guard.check, Up(env["front"].url), PRIVATE, missing, {"Authorization": f"Bearer {token}"})
    assert len(guard.cache) == 0


def test_expired_cached_positive_decision_is_not_reused(env):
    clock = Clock()
    guard = _guard(clock=clock, decision_cache=DecisionCache(clock))
    env["ts"].settings.lifetime = 20                 # exp = now + 20 s: the decision lives at most 20 s
    token = fetch_token(env["ts"], PRIVATE)
    up = Up(env["front"].url, verifier=env["verifier"])
    headers = {"Authorization": f"Bearer {token}"}
    guard.check(up, PRIVATE, env["layer"], headers)
    clock.offset = 10
    guard.check(up, PRIVATE, env["layer"], headers)   # still cached and valid
    clock.offset = 25
    _expect("UNAUTHORIZED", guard.check, up, PRIVATE, env["layer"], headers)


def test_decisions_live_no_longer_than_max_ttl(env):
    clock = Clock()
    guard = _guard(clock=clock, decision_cache=DecisionCache(clock), max_ttl=30)
    token = fetch_token(env["ts"], PRIVATE)          # exp = now + 300 s
    up = Up(env["front"].url)
    headers = {"Authorization": f"Bearer {token}"}
    guard.check(up, PRIVATE, env["layer"], headers)
    asked = len(env["front"].requests)
    clock.offset = 20
    guard.check(up, PRIVATE, env["layer"], headers)
    assert len(env["front"].requests) == asked
    clock.offset = 31
    guard.check(up, PRIVATE, env["layer"], headers)
    assert len(env["front"].requests) > asked       # asked the origin again


def test_negative_decisions_are_cached(env):
    guard = _guard()
    up = Up(env["front"].url)
    _expect("UNAUTHORIZED", guard.check, up, PRIVATE, env["layer"], {"Authorization": "Bearer opaque-1"})
    asked = len(env["front"].requests)
    err = _expect("UNAUTHORIZED", guard.check, up, PRIVATE, env["layer"], {"Authorization": "Bearer opaque-1"})
    assert len(env["front"].requests) == asked
    assert err.detail["www_authenticate"]


def test_decisions_are_per_authorization_and_repository(env):
    guard = _guard()
    up = Up(env["front"].url, verifier=env["verifier"])
    good = {"Authorization": f"Bearer {fetch_token(env['ts'], PRIVATE)}"}
    guard.check(up, PRIVATE, env["layer"], good)
    _expect("DENIED", guard.check, up, OTHER, env["layer"], good)
    _expect("UNAUTHORIZED", guard.check, up, PRIVATE, env["layer"], {})


def test_unreachable_origin_fails_closed(env):
    from tests.helpers import free_port
    up = Up(f"http://127.0.0.1:{free_port()}")
    guard = _guard()
    _expect("UPSTREAM_ERROR", guard.check, up, PRIVATE, env["layer"], {"Authorization": "Bearer opaque"})
    assert len(guard.cache) == 0
