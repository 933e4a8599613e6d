"""AccessGuard decisions that need no origin: verified JWTs, decision cache, input validation.

The tokens are real RS256 JWTs signed with a freshly made certificate; the upstream points at a closed port,
so any attempt to reach the origin shows up as UPSTREAM_ERROR.
"""
import base64
import time

import jwt
import pytest

from dfcommon.errors import DfError
from dfdaemon.mirror.access import AccessGuard, Decision, DecisionCache, auth_fingerprint, format_challenge
from registry_plugin.oci import TokenVerifier
from registry_plugin.oci.challenge import Challenge
from tests.fixtures.tokenserver import make_cert
from tests.helpers import free_port, ManualClock

DIGEST = "sha256:" + "ab" * 32
REPO = "team/app"


class Up:
    def __init__(self, verifier):
        self.url = f"http://127.0.0.1:{free_port()}"
        self.host = self.url[7:]
        self.insecure, self.ca_file, self.credentials = False, None, None
        self.verifier = verifier


@pytest.fixture(scope="module")
def signer():
    key_pem, cert_pem, cert_der = make_cert("unit-issuer")
    x5c = [base64.b64encode(cert_der).decode()]

    def sign(access=None, exp_in=300, now=None, drop=(), **extra):
        now = int(now if now is not None else time.time())
        claims = {"iss": "unit-issuer", "sub": "u", "aud": "reg", "exp": now + exp_in, "nbf": now - 10,
                  "iat": now, "access": access if access is not None else
                  [{"type": "repository", "name": REPO, "actions": ["pull"]}], **extra}
        for k in drop:
            claims.pop(k)
        return {"Authorization": "Bearer " + jwt.encode(claims, key_pem, algorithm="RS256", headers={"x5c": x5c})}

    sign.verifier = TokenVerifier(certs_pem=cert_pem)
    return sign


def _known(up, repo=REPO, digest=DIGEST):
    """A membership cache that already knows ``digest`` in ``repo`` (as after one origin confirmation)."""
    members = DecisionCache()
    members.put((up.url, repo, digest), Decision(True, time.time() + 3600))
    return members


def _code(fn, *a):
    with pytest.raises(DfError) as ei:
        fn(*a)
    return ei.value.code


def test_verified_token_allows_and_is_cached_until_min_exp_max_ttl(signer):
    clock = ManualClock()
    up = Up(signer.verifier)
    guard = AccessGuard(clock=clock, decision_cache=DecisionCache(clock), max_ttl=60, member_cache=_known(up))
    headers = signer(exp_in=30, now=clock.now)
    guard.check(up, REPO, DIGEST, headers)
    key = (up.url, REPO, auth_fingerprint(headers["Authorization"]))
    assert guard.cache.get(key).expires_at == pytest.approx(clock.now + 30, abs=1)
    clock.now += 29
    guard.check(up, REPO, DIGEST, headers)
    clock.now += 2                              # past exp: the cached grant is gone, the token is expired
    assert _code(guard.check, up, REPO, DIGEST, headers) == "UNAUTHORIZED"


def test_wildcard_actions_allow_pull(signer):
    up = Up(signer.verifier)
    AccessGuard(member_cache=_known(up)).check(
        up, REPO, DIGEST, signer(access=[{"type": "repository", "name": REPO, "actions": ["*"]}]))


def test_verified_grant_still_needs_the_digest_confirmed_in_the_repository(signer):
    up = Up(signer.verifier)
    guard = AccessGuard(member_cache=_known(up))
    guard.check(up, REPO, DIGEST, signer())
    other = "sha256:" + "cd" * 32          # never confirmed in this repository: the origin must say so
    assert _code(guard.check, up, REPO, other, signer()) == "UPSTREAM_ERROR"


@pytest.mark.parametrize("kw,code", [
    ({"access": [{"type": "repository", "name": "team/other", "actions": ["pull"]}]}, "DENIED"),
    ({"access": [{"type": "repository", "name": REPO, "actions": ["push"]}]}, "DENIED"),
    ({"access": []}, "DENIED"),
    ({"exp_in": -1}, "UNAUTHORIZED"),
    ({"drop": ("exp",)}, "UNAUTHORIZED"),
    ({"nbf": int(time.time()) + 3600}, "UNAUTHORIZED"),
])
def test_refusals_from_the_token_alone(signer, kw, code):
    assert _code(AccessGuard().check, Up(signer.verifier), REPO, DIGEST, signer(**kw)) == code


def test_refusal_without_a_reachable_origin_carries_no_challenge(signer):
    with pytest.raises(DfError) as ei:
        AccessGuard().check(Up(signer.verifier), REPO, DIGEST, signer(exp_in=-5))
    assert ei.value.detail is None


def test_unverified_grant_needs_the_origin(signer):
    assert _code(AccessGuard().check, Up(None), REPO, DIGEST, signer()) == "UPSTREAM_ERROR"


def test_unverified_refusal_needs_no_origin(signer):
    assert _code(AccessGuard().check, Up(None), REPO, DIGEST, signer(access=[])) == "DENIED"


@pytest.mark.parametrize("repo,digest,code", [
    ("Team/App", DIGEST, "NAME_INVALID"),
    ("../etc", DIGEST, "NAME_INVALID"),
    (REPO, "sha256:xyz", "DIGEST_INVALID"),
    (REPO, "md5:" + "a" * 32, "DIGEST_INVALID"),
])
def test_bad_input_is_refused_before_any_request(signer, repo, digest, code):
    assert _code(AccessGuard().check, Up(signer.verifier), repo, digest, signer()) == code


def test_decision_cache_expiry_and_eviction():
    clock = ManualClock(1000.0)
    cache = DecisionCache(clock, max_entries=2)
    cache.put("a", Decision(True, 1010.0))
    cache.put("b", Decision(True, 1100.0))
    cache.put("c", Decision(True, 1100.0))
    assert cache.get("a") is None and len(cache) == 2      # evicted, oldest first
    clock.now = 1100.0
    assert cache.get("b") is None                           # expired at its deadline


def test_decision_enforce_carries_the_challenge():
    Decision(True, 0).enforce()
    with pytest.raises(DfError) as ei:
        Decision(False, 0, "DENIED", "no", 'Bearer realm="x"').enforce()
    assert ei.value.http_status == 403 and ei.value.detail == {"www_authenticate": 'Bearer realm="x"'}


def test_format_challenge():
    bearer = Challenge("bearer", {"realm": "https://auth/token", "service": "reg"})
    assert format_challenge(bearer, "a/b", "insufficient_scope") == (
        'Bearer realm="https://auth/token",service="reg",scope="repository:a/b:pull",error="insufficient_scope"')
    assert format_challenge(Challenge("basic", {"realm": "r"}), "a/b") == 'Basic realm="r"'
    assert format_challenge(None, "a/b") is None
