"""A real supernode process holds a 602 (``pull_hold``) until the task's progress changes: a client with
nothing to fetch gets the next piece in the same /peer/task call once the CDN has written it, instead of
"wait" and a back-off of its own. The origin sends the first piece, then stops until the test opens a gate."""
import os
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from tests.fixtures.supernode_config import ConfiguredSupernode
from tests.helpers import serve_http

MiB = 1 << 20
SIZE = 3 * MiB


class GatedOrigin:
    """Serves one file; a GET sends its first ``first`` bytes, then waits for :meth:`open_gate`."""

    def __init__(self, data: bytes, first: int):
        self.data, self.first = data, first
        self.gate = threading.Event()
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_HEAD(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(origin.data)))
                self.end_headers()

            def do_GET(self):
                if self.headers.get("Range") == "bytes=0-0":          # range-support probe
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes 0-0/{len(origin.data)}")
                    self.send_header("Content-Length", "1")
                    self.end_headers()
                    self.wfile.write(origin.data[:1])
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(origin.data)))
                self.end_headers()
                self.wfile.write(origin.data[:origin.first])
                self.wfile.flush()
                origin.gate.wait(30)
                self.wfile.write(origin.data[origin.first:])

        self.server = serve_http(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/blob"

    def open_gate(self):
        self.gate.set()

    def stop(self):
        self.gate.set()
        self.server.shutdown()


def _register(sn, url, cid):
    body = {"rawUrl": url, "taskUrl": url, "cid": cid, "ip": "127.0.0.1", "hostName": cid, "port": 15001,
            "path": f"/peer/file/{cid}", "version": "test"}
    r = requests.post(f"{sn.url}/peer/registry", json=body, timeout=10).json()
    assert r["code"] == 200, r
    return r["data"]


def _pull(sn, task_id, cid, **extra):
    params = {"taskId": task_id, "srcCid": cid, "status": 701 if extra else 700, **extra}
    return requests.get(f"{sn.url}/peer/task", params=params, timeout=10).json()


def _first_piece(sn, url, cid):
    data = _register(sn, url, cid)
    assert data["pieceSize"] == MiB
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = _pull(sn, data["taskId"], cid)
        if r["code"] == 601 and r["data"]:
            return data["taskId"], r["data"]
        time.sleep(0.05)
    pytest.fail(f"no first piece: {r}")


@pytest.fixture
def origin():
    o = GatedOrigin(os.urandom(SIZE), first=MiB + (64 << 10))    # the whole first 1 MiB piece, then a stop
    yield o
    o.stop()


def _supernode(tmp_path, hold):
    sn = ConfiguredSupernode(tmp_path / f"sn-{hold}", base={"piece_size": "1M", "pull_hold": hold})
    sn.start()
    return sn


def test_a_held_602_answers_with_the_piece_the_cdn_writes_meanwhile(tmp_path, origin):
    sn = _supernode(tmp_path, "3s")
    try:
        task_id, first = _first_piece(sn, origin.url, "client-a")
        assert [p["pieceNum"] for p in first] == [0]
        threading.Timer(0.5, origin.open_gate).start()
        started = time.monotonic()
        r = _pull(sn, task_id, "client-a", range=first[0]["range"], result=501, dstCid=first[0]["cid"])
        waited = time.monotonic() - started
        assert r["code"] == 601, r                       # held, then answered with the new pieces
        assert r["data"] and 0 not in [p["pieceNum"] for p in r["data"]]
        assert 0.3 < waited < 3.0                        # it waited for the CDN, not for the hold to run out
        metrics = requests.get(f"{sn.url}/metrics", timeout=5).text
        assert 'dragonfly_supernode_pull_replies_total{code="601"}' in metrics
    finally:
        sn.stop()


def test_without_hold_the_same_call_answers_602_at_once(tmp_path, origin):
    sn = _supernode(tmp_path, "0s")
    try:
        task_id, first = _first_piece(sn, origin.url, "client-a")
        r = _pull(sn, task_id, "client-a", range=first[0]["range"], result=501, dstCid=first[0]["cid"])
        assert r["code"] == 602, r
        metrics = requests.get(f"{sn.url}/metrics", timeout=5).text
        assert 'dragonfly_supernode_pull_replies_total{code="602"}' in metrics
    finally:
        sn.stop()


def test_a_hold_that_sees_no_change_ends_in_602(tmp_path, origin):
    sn = _supernode(tmp_path, "0.5s")
    try:
        task_id, first = _first_piece(sn, origin.url, "client-a")
        started = time.monotonic()
        r = _pull(sn, task_id, "client-a", range=first[0]["range"], result=501, dstCid=first[0]["cid"])
        assert r["code"] == 602, r
        assert time.monotonic() - started >= 0.45
    finally:
        sn.stop()


def test_a_supernode_slot_frees_when_the_piece_server_has_sent_the_piece(tmp_path):
    """With one supernode send allowed per task, the second client gets a supernode piece as soon as the
    first client's piece has been sent, before that client reports it (its report is still to come)."""
    o = GatedOrigin(os.urandom(SIZE), first=SIZE)          # no stop: the CDN holds the whole file at once
    sn = ConfiguredSupernode(tmp_path / "sn-slot", base={"piece_size": "1M", "pull_hold": "0s",
                                                        "supernode_upload_limit": 1, "supernode_upload_total": 1})
    sn.start()
    try:
        task_id, (piece,) = _first_piece(sn, o.url, "client-a")
        _register(sn, o.url, "client-b")
        time.sleep(0.3)
        assert _pull(sn, task_id, "client-b")["code"] == 602          # the one slot is client-a's
        body = requests.get(f"http://{piece['peerIp']}:{piece['peerPort']}{piece['path']}", timeout=10,
                            headers={"Range": f"bytes={piece['range']}", "pieceNum": str(piece["pieceNum"]),
                                     "pieceSize": str(piece["pieceSize"])})
        assert body.status_code == 206 and len(body.content) == MiB
        deadline, r = time.monotonic() + 5, None
        while time.monotonic() < deadline:
            r = _pull(sn, task_id, "client-b")
            if r["code"] == 601 and r["data"]:
                break
            time.sleep(0.05)
        assert r["code"] == 601 and r["data"], r
        (got,) = r["data"]
        assert got["cid"] == piece["cid"] and got["pieceNum"] != piece["pieceNum"]   # a new piece, from the supernode
    finally:
        sn.stop()
        o.stop()
