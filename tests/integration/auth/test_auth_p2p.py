"""Auth on, real processes: dfget with a peer-role API token downloads P2P with piece tokens from the supernode's
piece server and from another host's upload server; without a token (or with the wrong role) it stops with
exit 79; upload and piece servers refuse requests without a valid token for that task, sending no byte."""
import hashlib
import json
import os
import time

import pytest
import requests

from dfcommon import tokens as T
from dfcommon.pieces import auto_piece_size, range_string
from dfcommon.task_id import task_id


def _metric(sn, name, label):
    text = requests.get(sn.url("/metrics"), timeout=10).text        # /metrics is an open path
    total = 0.0
    for line in text.splitlines():
        if not line.startswith("#") and name in line and label in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture(scope="module")
def payload(origin):
    data = os.urandom(9 << 20)                       # 3 pieces
    (origin.root_path / "auth.bin").write_bytes(data)
    return data


def test_p2p_download_with_peer_tokens(supernode, origin, payload, dfget, work, mint):
    token = mint("peer", subject="host")
    url = origin.url("auth.bin")
    for i in range(2):
        out = work / f"out{i}" / "auth.bin"
        r = dfget("-u", url, "-o", str(out), "-n", supernode.node, "--notbs", "--home", str(work / f"home{i}"),
                  token=token)
        assert r.returncode == 0, r.stdout + r.stderr
        assert hashlib.md5(out.read_bytes()).hexdigest() == hashlib.md5(payload).hexdigest()
        # the upload server now trusts the supernode's key: it serves pieces only with peer tokens
        stored = list((work / f"home{i}" / "meta" / "trusted-keys").glob("*.json"))
        assert len(stored) == 1 and json.loads(stored[0].read_text())["keys"][0]["kty"] == "OKP"
    # pieces came from the supernode (host 0) and from host 0's upload server (host 1), all with tokens
    assert _metric(supernode, "pieces_reported_total", 'source="supernode"') >= 3
    assert _metric(supernode, "pieces_reported_total", 'source="peer"') >= 1
    assert origin.bytes_sent["/auth.bin"] == len(payload)


def test_no_token_is_refused_with_exit_79(supernode, origin, payload, dfget, work):
    r = dfget("-u", origin.url("auth.bin"), "-o", str(work / "x.bin"), "-n", supernode.node,
              "--home", str(work / "home"))
    assert r.returncode == 79, r.stdout + r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("download FAIL(1103)") and "HTTP 401" in last and "role peer" in last
    assert not (work / "x.bin").exists()             # 401 never falls back to the source


def test_wrong_role_is_refused(supernode, origin, payload, dfget, work, mint, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(mint("preheat") + "\n")
    r = dfget("-u", origin.url("auth.bin"), "-o", str(work / "x.bin"), "-n", supernode.node,
              "--home", str(work / "home"), "--supernode-token-file", str(token_file))
    assert r.returncode == 79 and "HTTP 403" in r.stdout, r.stdout + r.stderr


def _served_file(home):
    port = json.loads((home / "meta" / "host.meta").read_text())["servicePort"]
    names = [n for n in os.listdir(home / "data") if n.startswith("auth.bin-")]
    assert len(names) == 1
    return port, names[0]


def test_upload_server_requires_a_token_for_that_task(supernode, origin, payload, dfget, work, mint, keys):
    home = work / "home"
    r = dfget("-u", origin.url("auth.bin"), "-o", str(work / "a" / "auth.bin"), "-n", supernode.node, "--notbs",
              "--home", str(home), token=mint("peer"))
    assert r.returncode == 0, r.stdout + r.stderr
    port, name = _served_file(home)
    path = f"/peer/file/{name}"
    ps = auto_piece_size(len(payload))
    headers = {"Range": "bytes=" + range_string(0, ps), "pieceNum": "0", "pieceSize": str(ps)}
    tid = task_id(origin.url("auth.bin"))
    cid = "127.0.0.1-" + name[len("auth.bin-"):]
    with open(keys["private"], "rb") as fh:
        signer = T.TokenSigner(fh.read())
    forger = T.TokenSigner(T.generate_key_pair()[0])
    late = T.TokenSigner(signer.key, clock=lambda: time.time() - 3600)

    def get(token=None):
        h = dict(headers, **({"Authorization": f"Bearer {token}"} if token else {}))
        return requests.get(f"http://127.0.0.1:{port}{path}", headers=h, timeout=10)

    cases = [
        (None, 401),
        ("garbage", 401),
        (forger.peer_token(tid, "x", cid, 60, path=path), 401),               # not signed by the supernode
        (late.peer_token(tid, "x", cid, 60, path=path), 401),                 # expired
        (signer.peer_token("b" * 64, "x", cid, 60, path=path), 403),          # another task
        (signer.peer_token(tid, "x", cid, 60, path="/peer/file/other-1"), 403),   # another file
        (signer.mint("admin", "x", 60), 401),                                  # an API token is no piece token
    ]
    secret = payload[:4096]
    for token, status in cases:
        resp = get(token)
        assert resp.status_code == status, (token, resp.text)
        assert secret not in resp.content and len(resp.content) < 1024
    ok = get(signer.peer_token(tid, "x", cid, 60, path=path))
    assert ok.status_code == 206 and ok.content[4:4 + 4096] == secret


def test_piece_server_requires_a_token_for_that_task(supernode, origin, payload, keys):
    tid = task_id(origin.url("auth.bin"))
    with open(keys["private"], "rb") as fh:
        signer = T.TokenSigner(fh.read())
    url = supernode.piece_url(tid)
    r = requests.get(url, headers={"Range": "bytes=0-99"}, timeout=10)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    other = signer.peer_token("c" * 64, "x", T.DST_SUPERNODE, 60)
    r = requests.get(url, headers={"Range": "bytes=0-99", "Authorization": f"Bearer {other}"}, timeout=10)
    assert r.status_code == 403
    peer_dst = signer.peer_token(tid, "x", "some-peer", 60)
    r = requests.get(url, headers={"Range": "bytes=0-99", "Authorization": f"Bearer {peer_dst}"}, timeout=10)
    assert r.status_code == 403
    good = signer.peer_token(tid, "x", T.DST_SUPERNODE, 60)
    r = requests.get(url, headers={"Range": "bytes=0-99", "Authorization": f"Bearer {good}"}, timeout=10)
    assert r.status_code == 206 and len(r.content) == 100
