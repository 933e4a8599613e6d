import base64
import json

import pytest

from dfcommon.errors import DfError
from registry_plugin.oci.auth import Authenticator, Token, TokenCache, parse_token_response
from registry_plugin.oci.challenge import Challenge
from registry_plugin.oci.credentials import (BasicCredentials, ChainCredentials, DockerConfigCredentials,
                                             HostCredentials, StaticCredentials, as_source)
from registry_plugin.oci.scope import parse_scopes
from tests.helpers import ManualClock


def test_token_response_expiry_and_issued_at():
    now = 1_700_000_000.0
    t = parse_token_response({"token": "a", "expires_in": 300, "issued_at": "2023-11-14T22:13:10Z"}, now)
    assert t.token == "a" and t.expires_at == pytest.approx(1699999990.0 + 300)
    assert parse_token_response({"access_token": "b", "token": "a"}, now).token == "b"
    assert parse_token_response({"token": "a", "expires_in": 5}, now).lifetime == 60  # floor of 60 s
    future = parse_token_response({"token": "a", "expires_in": 100, "issued_at": "2099-01-01T00:00:00Z"}, now)
    assert future.expires_at == now + 100  # a clock ahead of ours does not extend the token
    for bad in ({}, {"token": ""}, [], {"token": 5}):
        with pytest.raises(DfError):
            parse_token_response(bad, now)


def test_cache_renews_before_expiry():
    clock = ManualClock(1_000_000.0)
    cache = TokenCache(clock)
    cache.put("k", Token("t", clock.now + 300, 300))
    assert cache.get("k").token == "t"
    clock.now += 265  # 35 s left, margin is 30 s
    assert cache.get("k") is not None
    clock.now += 10   # 25 s left: renew
    assert cache.get("k") is None
    cache.put("k", Token("t2", clock.now + 60, 60))
    assert cache.get("k").token == "t2"
    cache.invalidate("k")
    assert cache.get("k") is None


def test_cache_key_separates_credentials_and_scopes():
    ch = Challenge("bearer", {"realm": "http://r/t", "service": "s"})
    a = Authenticator.cache_key(ch, parse_scopes("repository:a:pull"), BasicCredentials("u", "p1"))
    b = Authenticator.cache_key(ch, parse_scopes("repository:a:pull"), BasicCredentials("u", "p2"))
    c = Authenticator.cache_key(ch, parse_scopes("repository:b:pull"), BasicCredentials("u", "p1"))
    n = Authenticator.cache_key(ch, parse_scopes("repository:a:pull"), None)
    assert len({a, b, c, n}) == 4
    assert "p1" not in repr(a)


def test_basic_challenge_and_unknown_method():
    auth = Authenticator(session=None)
    ch = Challenge("basic", {"realm": "r"})
    assert auth.authorization(ch, [], None) is None
    hdr = auth.authorization(ch, [], BasicCredentials("u", "p"))
    assert base64.b64decode(hdr.split()[1]) == b"u:p"
    with pytest.raises(ValueError):
        Authenticator(session=None, method="telepathy")
    with pytest.raises(DfError):
        auth.authorization(Challenge("negotiate", {}), [], None)


def test_credential_sources(tmp_path):
    cfg = {"auths": {"https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pw").decode()},
                     "harbor.dev": {"username": "robot$x", "password": "s"},
                     "tok.example": {"identitytoken": "refresh-me"},
                     "empty.example": {}}}
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    src = DockerConfigCredentials(str(p))
    assert src.get("registry-1.docker.io") == BasicCredentials("hub", "pw")
    assert src.get("HARBOR.dev").username == "robot$x"
    assert src.get("tok.example").refresh_token == "refresh-me"
    assert src.get("empty.example") is None
    assert DockerConfigCredentials(str(tmp_path / "missing.json")).get("x") is None
    chain = ChainCredentials(HostCredentials({"a:5000": ("ua", "pa")}), StaticCredentials("any", "pw"))
    assert chain.get("a:5000").username == "ua" and chain.get("b").username == "any"
    assert as_source(("u", "p")).get("h").password == "p"
    assert as_source({"h": ("u", "p")}).get("h").username == "u"
    assert as_source(None) is None
    assert "secretpw" not in repr(BasicCredentials("u", "secretpw"))
