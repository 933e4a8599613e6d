"""Bad input to every endpoint of a real supernode process and a real peer upload server:
always a 4xx with a clear message, never a 500, never a byte from outside the home directories."""
from __future__ import annotations

import json
import os

import pytest
import requests

from dfdaemon.upload.launcher import ensure_upload_server
from tests.e2e.p2p_stack import SupernodeProcess, stop_upload_servers

pytestmark = pytest.mark.slow
SECRET = b"top-secret-outside-home\n"
HEX = "a" * 64
TRAVERSALS = ["../../../../etc/passwd", "..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e/%2e%2e/secret", "....//....//secret",
              "/etc/passwd", "a/../../secret", "..\\..\\secret", "secret%00.txt"]


def register_bodies():
    good = {"rawUrl": "http://127.0.0.1:1/f", "taskUrl": "http://127.0.0.1:1/f", "cid": "c1", "ip": "127.0.0.1",
            "hostName": "h", "port": 15001, "path": "/peer/file/f-1", "version": "1.0.6"}
    yield "empty object", {}
    yield "not an object", [1, 2, 3]
    yield "missing url", {k: v for k, v in good.items() if k not in ("rawUrl", "taskUrl")}
    yield "port as text", {**good, "port": "eighty"}
    yield "port out of range", {**good, "port": 70000}
    yield "headers not a list", {**good, "headers": 5}
    yield "bad url scheme", {**good, "rawUrl": "file:///etc/passwd", "taskUrl": "file:///etc/passwd"}
    yield "ip garbage", {**good, "ip": "not-an-ip;rm -rf /"}
    yield "rootCAs not base64", {**good, "rootCAs": ["%%%"]}


def bad_requests():
    for name, body in register_bodies():
        yield f"register {name}", "POST", "/peer/registry", {"json": body}
    yield "register invalid json", "POST", "/peer/registry", {"data": b"{not json", "headers": {"Content-Type": "application/json"}}
    yield "register huge body", "POST", "/peer/registry", {"json": {"rawUrl": "x" * (3 << 20)}}
    yield "task no params", "GET", "/peer/task", {}
    for t in TRAVERSALS:
        yield f"task id {t}", "GET", "/peer/task", {"params": {"taskId": t, "srcCid": "c", "status": "700"}}
        yield f"v1 task {t}", "GET", f"/api/v1/tasks/{t}", {}
        yield f"v1 delete task {t}", "DELETE", f"/api/v1/tasks/{t}", {}
        yield f"v1 peer {t}", "GET", f"/api/v1/peers/{t}", {}
    yield "task status text", "GET", "/peer/task", {"params": {"taskId": HEX, "srcCid": "c", "status": "abc"}}
    yield "task bad range", "GET", "/peer/task", {"params": {"taskId": HEX, "srcCid": "c", "status": "701",
                                                             "result": "501", "range": "9-1"}}
    yield "piece suc missing", "GET", "/peer/piece/suc", {"params": {"taskId": HEX}}
    yield "piece suc bad range", "GET", "/peer/piece/suc", {"params": {"taskId": HEX, "cid": "c", "pieceRange": "x-y"}}
    yield "piece error bad type", "GET", "/peer/piece/error", {"params": {"taskId": HEX, "range": "0-1", "srcCid": "a",
                                                                          "dstCid": "b", "errorType": "NOPE"}}
    yield "service down missing", "GET", "/peer/service/down", {}
    yield "metrics not json", "POST", "/task/metrics", {"data": b"\x00\x01", "headers": {"Content-Type": "application/json"}}
    yield "metrics wrong types", "POST", "/task/metrics", {"json": {"duration": "slow", "success": "maybe"}}
    yield "v1 peers bad body", "POST", "/api/v1/peers", {"json": {"IP": 5}}
    yield "v1 piece error range", "GET", f"/api/v1/tasks/{HEX}/pieces/notarange/error", {}
    yield "alias bad body", "POST", "/v1.0/peer/registry", {"json": {}}
    yield "preheat bad type", "POST", "/preheats", {"json": {"type": "rocket", "url": "http://x/y"}}
    yield "preheat no url", "POST", "/api/v1/preheats", {"json": {"type": "image"}}
    yield "preheat unknown id", "GET", "/preheats/../../etc/passwd", {}
    yield "webhook garbage", "POST", "/api/v1/webhooks/harbor", {"data": b"garbage", "headers": {"Content-Type": "application/json"}}
    yield "registry webhook garbage", "POST", "/api/v1/webhooks/registry", {"json": {"events": "nope"}}


@pytest.fixture
def supernode(tmp_path):
    sn = SupernodeProcess(str(tmp_path / "home" / "sn"))
    yield sn
    sn.stop()


def assert_clean_4xx(resp, label):
    if resp.status_code == 200 and label.startswith("task "):
        # /peer/task reports "unknown task or client" inside Dragonfly's ResultInfo envelope (HTTP 200, code 502)
        assert resp.json()["code"] in (501, 502), f"{label}: {resp.text[:300]}"
        return
    assert 400 <= resp.status_code < 500, f"{label}: {resp.status_code} {resp.text[:300]}"
    assert SECRET not in resp.content and b"root:x:0:0" not in resp.content, label
    assert b"Traceback" not in resp.content, label
    if resp.headers.get("Content-Type", "").startswith("application/json"):
        doc = resp.json()
        text = json.dumps(doc)
        assert "message" in text or "msg" in text or "detail" in text, f"{label}: no message in {text}"


def test_supernode_api_rejects_bad_input_cleanly(supernode, tmp_path):
    outside = tmp_path / "secret"
    outside.write_bytes(SECRET)
    before = sorted(p.name for p in tmp_path.iterdir())
    for label, method, path, kw in bad_requests():
        resp = requests.request(method, supernode.api + path, timeout=10, **kw)
        assert_clean_4xx(resp, label)
    assert supernode.healthy()
    assert outside.read_bytes() == SECRET
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_piece_server_rejects_traversal_and_bad_ranges(supernode, tmp_path):
    (tmp_path / "secret").write_bytes(SECRET)
    base = f"http://127.0.0.1:{supernode.download_port}"
    for t in TRAVERSALS + [f"download/{HEX[:3]}/../../secret", f"download/abc/{HEX}/../../../secret"]:
        assert_clean_4xx(requests.get(f"{base}/{t}", timeout=10), f"piece server {t}")
    for rng in ("bytes=abc", "items=0-1", "bytes=5-1"):
        r = requests.get(f"{base}/download/{HEX[:3]}/{HEX}", headers={"Range": rng}, timeout=10)
        assert_clean_4xx(r, f"range {rng}")


def test_upload_server_rejects_traversal_and_bad_headers(tmp_path):
    home = str(tmp_path / "home" / "peer")
    (tmp_path / "secret").write_bytes(SECRET)
    port = ensure_upload_server(home, "127.0.0.1", alive=60.0, expire=60.0)
    try:
        base = f"http://127.0.0.1:{port}"
        for t in TRAVERSALS:
            r = requests.get(f"{base}/peer/file/{t}", headers={"Range": "bytes=0-99", "pieceNum": "0",
                                                                "pieceSize": str(4 << 20)}, timeout=10)
            assert_clean_4xx(r, f"upload {t}")
        os.makedirs(os.path.join(home, "data"), exist_ok=True)
        with open(os.path.join(home, "data", "f-1"), "wb") as f:
            f.write(b"x" * 1000)
        for headers in ({}, {"Range": "bytes=0-99"}, {"Range": "bytes=0-99", "pieceNum": "zero", "pieceSize": "4"},
                        {"Range": "bytes=99-0", "pieceNum": "0", "pieceSize": str(4 << 20)},
                        {"Range": "bytes=999999999-1000000099", "pieceNum": "0", "pieceSize": str(4 << 20)}):
            assert_clean_4xx(requests.get(f"{base}/peer/file/f-1", headers=headers, timeout=10), f"upload {headers}")
        assert_clean_4xx(requests.get(f"{base}/rate/f-1", headers={"rateLimit": "fast"}, timeout=10), "rate")
    finally:
        stop_upload_servers(home)
