"""Auth on: the supernode API asks for bearer tokens with the right role; open paths stay open; the
verification keys are published; a Dragonfly envelope on peer paths, a JSON problem elsewhere."""
import pytest
import requests

from dfcommon import tokens as T


def call(sn, method, path, token=None, **kw):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, sn.url(path), headers=headers, timeout=10, **kw)


@pytest.mark.parametrize("path", ["/_ping", "/healthy", "/version", "/metrics", "/v1.0/_ping"])
def test_open_paths(supernode, path):
    assert call(supernode, "GET", path).status_code == 200


def test_keys_are_published(supernode, keys):
    doc = call(supernode, "GET", "/api/v1/auth/keys").json()
    assert doc["enabled"] is True and doc["issuer"] == "supernode"
    with open(keys["public"], "rb") as fh:
        (public,) = T.load_public_keys(fh.read())
    assert [k["kid"] for k in doc["keys"]] == [T.key_id(public)]
    assert T.keys_from_jwks(doc)[0].public_bytes_raw() == public.public_bytes_raw()


def test_peer_endpoints(supernode, mint):
    r = call(supernode, "GET", "/peer/task", params={"taskId": "a" * 64, "srcCid": "x", "status": "700"})
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith('Bearer realm="supernode"')
    body = r.json()
    assert body["code"] == 608 and "bearer token" in body["message"]          # Dragonfly envelope
    r = call(supernode, "GET", "/v1.0/peer/task", mint("preheat"), params={"taskId": "a" * 64})
    assert r.status_code == 403 and 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
    for role in ("peer", "admin"):        # allowed: the request itself is then judged (unknown task)
        r = call(supernode, "GET", "/peer/task", mint(role),
                 params={"taskId": "a" * 64, "srcCid": "x", "status": "700"})
        assert r.status_code == 200 and r.json()["code"] != 608


def test_preheats_need_preheat_or_admin(supernode, mint):
    r = call(supernode, "POST", "/preheats", json={"type": "file", "url": "http://127.0.0.1:9/x"})
    assert r.status_code == 401 and r.json()["status"] == 401                 # JSON problem
    assert call(supernode, "GET", "/api/v1/preheats", mint("peer")).status_code == 403
    assert call(supernode, "GET", "/preheats", mint("webhook")).status_code == 403
    assert call(supernode, "GET", "/preheats", mint("preheat")).status_code == 200
    r = call(supernode, "POST", "/preheats", mint("admin"), json={"type": "nope", "url": "http://x/"})
    assert r.status_code == 400                                                # past auth, judged on its body


def test_policies_and_runs(supernode, mint):
    assert call(supernode, "GET", "/api/v1/policies").status_code == 401
    assert call(supernode, "GET", "/api/v1/policies", mint("peer")).status_code == 403
    assert call(supernode, "GET", "/api/v1/policies", mint("preheat")).status_code == 200
    assert call(supernode, "POST", "/api/v1/policies", mint("preheat"), json={}).status_code == 403
    assert call(supernode, "POST", "/api/v1/policies", mint("admin"), json={}).status_code == 400
    assert call(supernode, "GET", "/api/v1/runs/nope", mint("preheat")).status_code == 404


def test_admin_only_views(supernode, mint):
    for role, status in (("peer", 403), ("preheat", 403), ("admin", 200)):
        assert call(supernode, "GET", "/api/v1/peers", mint(role)).status_code == status


def test_bad_tokens(supernode, mint, keys):
    with open(keys["private"], "rb") as fh:
        signer = T.TokenSigner(fh.read())
    import time
    expired = T.TokenSigner(signer.key, clock=lambda: time.time() - 7200).mint("admin", "x", 60)
    forged = T.TokenSigner(T.generate_key_pair()[0]).mint("admin", "x", 60)
    piece = signer.peer_token("a" * 64, "x", "supernode", 60)
    too_long = signer.mint("admin", "x", 3600 * 24 * 365)
    for token, words in ((expired, "expired"), (forged, "signature"), (piece, "not meant"),
                         (too_long, "lifetime"), ("x.y.z", "malformed")):
        r = call(supernode, "GET", "/api/v1/peers", token)
        assert r.status_code == 401 and words in r.json()["message"], r.text


def test_token_cli_refuses_bad_input(keys, tmp_path):
    from tests.integration.auth.conftest import run_cli
    assert run_cli("token", "--role", "root", "--signing-key", keys["private"]).returncode == 2
    r = run_cli("token", "--role", "admin", "--signing-key", str(tmp_path / "missing"))
    assert r.returncode == 2 and "cannot read" in r.stderr
    cfg = tmp_path / "sn.yml"
    cfg.write_text(f"auth:\n  enabled: true\n  signing_key: {keys['private']}\n  api_token_ttl_max: 1h\n")
    r = run_cli("token", "--role", "admin", "--ttl", "2h", "--config", str(cfg))
    assert r.returncode == 2 and "api_token_ttl_max" in r.stderr
    r = run_cli("keys", "generate", "--signing-key", keys["private"])
    assert r.returncode == 2 and "exists" in r.stderr
