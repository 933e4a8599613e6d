"""supernode.auth: the role table, PieceInfo extras, config validation, keys wiring and the piece-server guard."""
import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from dfcommon import tokens as T
from dfcommon.errors import ConfigError
from supernode.auth import PieceInfoExtras, PieceServerGuard, load_keys, required_roles, write_key_pair
from supernode.auth.guard import ADMIN, OWN_SCHEME, PEER, PREHEAT, WEBHOOK
from supernode.config import load_config

OPEN = ("/_ping", "/healthy", "/metrics", "/version")


@pytest.mark.parametrize("method, path, want", [
    ("GET", "/_ping", None), ("GET", "/metrics", None), ("GET", "/api/v1/auth/keys", None),
    ("POST", "/peer/registry", PEER), ("GET", "/peer/task", PEER), ("POST", "/task/metrics", PEER),
    ("POST", "/api/v1/peer/heartbeat", PEER), ("GET", "/api/v1/tasks/" + "a" * 64 + "/pieces/0-1/error", PEER),
    ("POST", "/preheats", PREHEAT), ("GET", "/api/v1/preheats/x", PREHEAT), ("POST", "/oapi/v1/jobs", PREHEAT),
    ("POST", "/api/v1/webhooks/harbor", WEBHOOK), ("GET", "/api/v1/policies", PREHEAT),
    ("POST", "/api/v1/policies/p1/run", PREHEAT), ("POST", "/api/v1/policies", ADMIN),
    ("DELETE", "/api/v1/policies/p1", ADMIN), ("GET", "/api/v1/runs/r1", PREHEAT),
    ("GET", "/api/v1/peers", ADMIN), ("DELETE", "/api/v1/tasks/" + "a" * 64, ADMIN), ("GET", "/nowhere", ADMIN),
])
def test_role_table(method, path, want):
    assert required_roles(method, path, OPEN) == want


def test_own_schemes_are_kept():
    assert required_roles("POST", "/preheats", OPEN, provider_scheme=True) == OWN_SCHEME
    assert required_roles("POST", "/oapi/v1/jobs", OPEN, provider_scheme=True) == OWN_SCHEME
    schemes = {"harbor": True, "registry": False}
    assert required_roles("POST", "/api/v1/webhooks/harbor", OPEN, webhook_schemes=schemes) == OWN_SCHEME
    assert required_roles("POST", "/api/v1/webhooks/registry", OPEN, webhook_schemes=schemes) == WEBHOOK


def test_piece_info_extras():
    signer = T.TokenSigner(T.generate_key_pair()[0])
    v = T.TokenVerifier([signer.public_key])
    info = {"cid": "10.0.0.2-9-1.000", "path": "/peer/file/f-9-1.000", "peerIp": "10.0.0.2"}
    PieceInfoExtras(signer, 600, "https").apply(info, "t" * 64, "10.0.0.1-1-1.000", False, "https")
    assert info["scheme"] == "https"
    c = v.verify(info["token"], T.AUD_PEER, ("peer",), task="t" * 64, dst="10.0.0.2-9-1.000",
                 path="/peer/file/f-9-1.000")
    assert c.sub == "10.0.0.1-1-1.000" and c.exp - c.iat == 600
    sn = {"cid": "cdnnode:x", "path": "/download/ttt/" + "t" * 64}
    PieceInfoExtras(signer, 60, "http").apply(sn, "t" * 64, "me", True)
    assert "scheme" not in sn                                      # absent = http, as Dragonfly sends it
    assert v.verify(sn["token"], T.AUD_PEER, task="t" * 64, dst=T.DST_SUPERNODE).path == ""
    plain = {"cid": "x", "path": "/p"}
    PieceInfoExtras(None, 60, "https").apply(plain, "t", "me", True)
    assert plain == {"cid": "x", "path": "/p", "scheme": "https"}  # TLS without tokens


def test_config_validation(tmp_path):
    conf = load_config(None)
    assert conf.auth.enabled is False and conf.auth.peer_token_ttl == 600 and "/_ping" in conf.auth.open_paths
    with pytest.raises(ConfigError, match="signing_key"):
        load_config(None, environ={"SUPERNODE_AUTH_ENABLED": "true"})
    with pytest.raises(ConfigError, match="go together"):
        load_config(None, environ={"SUPERNODE_AUTH_TLS_CERT": "/x.pem"})
    cfg = tmp_path / "sn.yml"
    cfg.write_text("auth:\n  open_paths: [metrics]\n")
    with pytest.raises(ConfigError, match="open_paths"):
        load_config(str(cfg))
    cfg.write_text("auth:\n  bogus: 1\n")
    with pytest.raises(ConfigError, match="unknown key 'bogus'"):
        load_config(str(cfg))


def test_keys_with_rotation(tmp_path):
    write_key_pair(str(tmp_path / "new.key"), str(tmp_path / "new.pub"))
    write_key_pair(str(tmp_path / "old.key"), str(tmp_path / "old.pub"), kind="rsa")
    cfg = tmp_path / "sn.yml"
    cfg.write_text(f"auth:\n  enabled: true\n  signing_key: {tmp_path / 'new.key'}\n"
                   f"  public_key: {tmp_path / 'old.pub'}\n")
    keys = load_keys(load_config(str(cfg)).auth)
    assert len(keys.jwks()["keys"]) == 2
    old = T.TokenSigner((tmp_path / "old.key").read_bytes())
    assert keys.verifier.verify(old.mint("admin", "x", 60)).role == "admin"    # still valid during rotation
    (tmp_path / "bad.key").write_text("nope")
    cfg.write_text(f"auth:\n  enabled: true\n  signing_key: {tmp_path / 'bad.key'}\n")
    with pytest.raises(ConfigError, match="signing_key"):
        load_keys(load_config(str(cfg)).auth)


def test_piece_server_guard():
    signer = T.TokenSigner(T.generate_key_pair()[0])
    inner = Response(b"PIECE", status=206)
    guard = Client(PieceServerGuard(inner, T.TokenVerifier([signer.public_key])))
    tid = "d" * 64
    path = f"/download/ddd/{tid}"
    r = guard.get(path)
    assert r.status_code == 401 and b"PIECE" not in r.data and r.headers["WWW-Authenticate"].startswith("Bearer")
    r = guard.get(path, headers={"Authorization": "Bearer " + signer.peer_token("e" * 64, "c", "supernode", 60)})
    assert r.status_code == 403 and b"PIECE" not in r.data
    r = guard.get(path, headers={"Authorization": "Bearer " + signer.peer_token(tid, "c", "supernode", 60)})
    assert r.status_code == 206 and r.data == b"PIECE"
    assert guard.get("/other").status_code == 206                 # not a piece path: the inner app decides
