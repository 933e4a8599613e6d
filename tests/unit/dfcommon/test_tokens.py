"""dfcommon.tokens: mint and verify API and peer tokens (Ed25519 and RSA), JWKS round trips, clear refusals."""
import time

import jwt
import pytest

from dfcommon import tokens as T


@pytest.fixture(scope="module", params=["ed25519", "rsa"])
def pair(request):
    private, public = T.generate_key_pair(request.param)
    return T.TokenSigner(private), T.load_public_keys(public), request.param


def test_api_token_round_trip(pair):
    signer, public, kind = pair
    token = signer.mint("admin", "ops", 3600)
    claims = T.TokenVerifier(public).verify(token, T.AUD_API, roles=("admin",))
    assert (claims.sub, claims.role, claims.aud, claims.iss) == ("ops", "admin", T.AUD_API, "supernode")
    assert claims.exp - claims.iat == 3600
    assert jwt.get_unverified_header(token)["alg"] == ("EdDSA" if kind == "ed25519" else "RS256")
    assert jwt.get_unverified_header(token)["kid"] == signer.kid


def test_peer_token_carries_task_dst_and_path(pair):
    signer, public, _ = pair
    token = signer.peer_token("a" * 64, "10.0.0.1-1-2.000", "10.0.0.2-3-4.000", 600, path="/peer/file/x-1")
    v = T.TokenVerifier(public)
    c = v.verify(token, T.AUD_PEER, ("peer",), task="a" * 64, dst="10.0.0.2-3-4.000", path="/peer/file/x-1")
    assert (c.task, c.dst, c.path, c.sub) == ("a" * 64, "10.0.0.2-3-4.000", "/peer/file/x-1", "10.0.0.1-1-2.000")
    with pytest.raises(T.TokenError) as e:
        v.verify(token, T.AUD_PEER, ("peer",), task="b" * 64)
    assert e.value.status == 403 and "task" in e.value.message
    with pytest.raises(T.TokenError) as e:
        v.verify(token, T.AUD_PEER, ("peer",), path="/peer/file/other")
    assert e.value.status == 403


def test_audiences_keep_uses_apart(pair):
    signer, public, _ = pair
    v = T.TokenVerifier(public)
    with pytest.raises(T.TokenError) as e:
        v.verify(signer.peer_token("t", "c", "supernode", 60), T.AUD_API)
    assert e.value.status == 401 and "not meant for" in e.value.message
    with pytest.raises(T.TokenError):
        v.verify(signer.mint("peer", "c", 60), T.AUD_PEER)


def test_wrong_role_is_403(pair):
    signer, public, _ = pair
    with pytest.raises(T.TokenError) as e:
        T.TokenVerifier(public).verify(signer.mint("peer", "c", 60), T.AUD_API, roles=("admin",))
    assert e.value.status == 403 and "role 'peer'" in e.value.message


def test_expired_and_leeway(pair):
    signer, public, _ = pair
    past = T.TokenSigner(signer.key, clock=lambda: time.time() - 100)
    token = past.mint("admin", "x", 60)                 # expired 40 s ago
    with pytest.raises(T.TokenError, match="expired"):
        T.TokenVerifier(public, leeway=10).verify(token)
    assert T.TokenVerifier(public, leeway=60).verify(token).role == "admin"     # within the skew allowance


def test_issued_in_the_future_is_refused(pair):
    signer, public, _ = pair
    future = T.TokenSigner(signer.key, clock=lambda: time.time() + 3600)
    with pytest.raises(T.TokenError, match="future"):
        T.TokenVerifier(public, leeway=30).verify(future.mint("admin", "x", 60))


def test_max_ttl(pair):
    signer, public, _ = pair
    token = signer.mint("admin", "x", 7200)
    with pytest.raises(T.TokenError, match="lifetime"):
        T.TokenVerifier(public, max_ttl=3600).verify(token)
    assert T.TokenVerifier(public, max_ttl=7200).verify(token)


def test_forged_and_malformed_tokens():
    signer = T.TokenSigner(T.generate_key_pair()[0])
    other = T.TokenSigner(T.generate_key_pair()[0])
    v = T.TokenVerifier([signer.public_key])
    for bad in (other.mint("admin", "x", 60), "not-a-token", "a.b.c"):
        with pytest.raises(T.TokenError) as e:
            v.verify(bad)
        assert e.value.status == 401
    with pytest.raises(T.TokenError, match="required"):
        v.verify(None)
    # alg none and HMAC tokens are never accepted
    none = jwt.encode({"iss": "supernode", "sub": "x", "aud": T.AUD_API, "iat": int(time.time()),
                       "exp": int(time.time()) + 60, "role": "admin"}, None, algorithm="none")
    hs = jwt.encode({"role": "admin"}, "secret" * 6, algorithm="HS256")
    for bad in (none, hs):
        with pytest.raises(T.TokenError, match="not accepted"):
            v.verify(bad)


def test_unknown_role_and_missing_claims():
    private, _ = T.generate_key_pair()
    key = T.load_private_key(private)
    v = T.TokenVerifier([key.public_key()])
    now = int(time.time())
    base = {"iss": "supernode", "sub": "x", "aud": T.AUD_API, "iat": now, "exp": now + 60}
    with pytest.raises(T.TokenError, match="role 'root' is unknown"):
        v.verify(jwt.encode({**base, "role": "root"}, key, algorithm="EdDSA"))
    no_exp = {k: val for k, val in base.items() if k != "exp"}
    with pytest.raises(T.TokenError, match="'exp'"):
        v.verify(jwt.encode({**no_exp, "role": "admin"}, key, algorithm="EdDSA"))
    with pytest.raises(T.TokenError, match="issuer"):
        v.verify(jwt.encode({**base, "iss": "someone", "role": "admin"}, key, algorithm="EdDSA"))


def test_jwks_round_trip_and_rotation():
    a, b = (T.TokenSigner(T.generate_key_pair(k)[0]) for k in ("ed25519", "rsa"))
    doc = T.jwks([a.public_key, b.public_key])
    assert [k["kty"] for k in doc["keys"]] == ["OKP", "RSA"]
    keys = T.keys_from_jwks(doc)
    v = T.TokenVerifier(keys)
    assert v.verify(a.mint("admin", "x", 60)).sub == "x"
    assert v.verify(b.mint("preheat", "y", 60)).role == "preheat"
    assert T.keys_from_jwks({"keys": [{"kty": "EC"}]}) == []
    with pytest.raises(ValueError):
        T.keys_from_jwks({"nokeys": 1})


def test_signer_refuses_bad_input():
    signer = T.TokenSigner(T.generate_key_pair()[0])
    with pytest.raises(ValueError, match="role"):
        signer.mint("root", "x", 60)
    with pytest.raises(ValueError, match="ttl"):
        signer.mint("admin", "x", 0)
    with pytest.raises(ValueError, match="private key"):
        T.TokenSigner(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ValueError, match="no PEM public key"):
        T.load_public_keys(b"")


def test_bearer_of():
    assert T.bearer_of("Bearer abc") == "abc"
    assert T.bearer_of("bearer  abc ") == "abc"
    assert T.bearer_of("Basic abc") is None
    assert T.bearer_of("Bearer") is None
    assert T.bearer_of(None) is None
