"""The upload server's peer-token hook over real sockets: no key = open; keys from JWKS or PEM files in the
trusted-keys directory, reloaded when it changes; 401/403 without a byte of the file; the task check after
/client/finish. Also the downloader's side: KeyTrust stores and removes a supernode's keys."""
import json
import os

import requests

from dfcommon import pieces
from dfcommon import tokens as T
from dfdaemon.p2p.trust import KeyTrust, file_for
from dfdaemon.upload import create_upload_app
from dfdaemon.upload.peer_auth import TrustedKeys, peer_authorizer

from .conftest import ThreadedServer

PS = 1 << 20
NAME = "blob.bin-1-2.000"
PATH = f"/peer/file/{NAME}"


def _setup(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    content = os.urandom(PS)
    (data / NAME).write_bytes(content)
    keys = tmp_path / "trusted-keys"
    app = create_upload_app(str(data))
    app.authorize = peer_authorizer(str(keys), app.service)
    app.authorize.keys.recheck = 0              # look at the directory on every request
    return app, keys, content


def _get(srv, token=None):
    headers = {"Range": "bytes=" + pieces.range_string(0, PS), "pieceNum": "0", "pieceSize": str(PS)}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.get(srv.url + PATH, headers=headers, timeout=10)


def test_open_without_keys_then_tokens_once_a_key_is_trusted(tmp_path):
    app, keys, content = _setup(tmp_path)
    signer = T.TokenSigner(T.generate_key_pair()[0])
    with ThreadedServer(app) as srv:
        assert _get(srv).status_code == 206                     # auth off: no key known
        keys.mkdir()
        (keys / "sn.json").write_text(json.dumps(T.jwks([signer.public_key])))
        r = _get(srv)
        assert r.status_code == 401 and content[:100] not in r.content and "bearer token" in r.text
        good = signer.peer_token("a" * 64, "c1", "c2", 60, path=PATH)
        r = _get(srv, good)
        assert r.status_code == 206 and r.content[4:104] == content[:100]
        assert _get(srv, signer.peer_token("a" * 64, "c1", "c2", 60, path="/peer/file/other")).status_code == 403
        # once the task is known, the token must be for that task and this host's cid
        app.service.finish(NAME, "b" * 64, "c2", "127.0.0.1:8002")
        assert _get(srv, good).status_code == 403
        assert _get(srv, signer.peer_token("b" * 64, "c1", "c2", 60, path=PATH)).status_code == 206
        assert _get(srv, signer.peer_token("b" * 64, "c1", "c9", 60, path=PATH)).status_code == 403
        # key removed (auth turned off at the supernode): open again
        (keys / "sn.json").unlink()
        assert _get(srv).status_code == 206


def test_pem_keys_and_rotation(tmp_path):
    keys = tmp_path / "k"
    keys.mkdir()
    old, new = (T.TokenSigner(T.generate_key_pair(kind)[0]) for kind in ("ed25519", "rsa"))
    (keys / "op.pem").write_bytes(T.public_pem(old.public_key))
    (keys / "junk.json").write_text("{not json")            # skipped with a warning, not fatal
    trusted = TrustedKeys(str(keys), recheck=0)
    assert trusted.verifier().verify(old.mint("peer", "x", 60, T.AUD_PEER), T.AUD_PEER)
    (keys / "op.pem").write_bytes(T.public_pem(old.public_key) + T.public_pem(new.public_key))
    assert trusted.verifier().verify(new.mint("peer", "x", 60, T.AUD_PEER), T.AUD_PEER)


class _KeysEndpoint:
    """A small real HTTP server standing in for the supernode's ``/api/v1/auth/keys`` (the supernode's own
    endpoint is tested end to end in tests/integration/auth); it answers from a list of documents."""

    def __init__(self, replies):
        self.replies, self.calls = list(replies), 0

    def __call__(self, environ, start_response):
        from werkzeug.wrappers import Response
        self.calls += 1
        doc = self.replies.pop(0)
        resp = Response("not found", status=404) if doc is None else \
            Response(json.dumps(doc), content_type="application/json")
        return resp(environ, start_response)


def test_key_trust_stores_refreshes_and_removes(tmp_path):
    from dfdaemon.p2p.supernode_client import SupernodeClient
    signer = T.TokenSigner(T.generate_key_pair()[0])
    now = [0.0]
    endpoint = _KeysEndpoint([T.jwks([signer.public_key]), {"keys": []}, None])
    with ThreadedServer(endpoint) as srv:
        node = f"127.0.0.1:{srv.port}"
        trust = KeyTrust(str(tmp_path / "tk"), SupernodeClient(), refresh=300, clock=lambda: now[0])
        assert trust.update(node) is True
        path = file_for(str(tmp_path / "tk"), node)
        assert os.path.basename(path) == f"127.0.0.1_{srv.port}.json"
        stored = T.keys_from_jwks(json.load(open(path)))[0]
        assert stored.public_bytes_raw() == signer.public_key.public_bytes_raw()
        assert trust.update(node) is True and endpoint.calls == 1               # cached for `refresh`
        now[0] = 301
        assert trust.update(node) is False and not os.path.exists(path)        # auth turned off
        now[0] = 700
        assert trust.update(node) is False and endpoint.calls == 3             # old supernode: 404, nothing stored
