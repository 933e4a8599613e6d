"""A real supernode process (the ``supernode`` console script) against a real origin: two clients
walk the Dragonfly pull loop to 600, the second one taking its pieces from the first."""
import hashlib
import os
import signal
import subprocess
import time
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from dfcommon import pieces
from tests.helpers import free_port, script, serve_http, wait_port
from tests.unit.supernode.api.origin_http import Origin

MiB = 1 << 20


class HeldPieces:
    """Stand-in for a dfget upload server (serves the wrapped pieces a test client holds, by range);
    the scheduler only needs an address that answers range requests for the pieces the peer reported."""

    def __init__(self):
        self.by_range: dict[str, bytes] = {}
        self.served = 0
        held = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                rng = self.headers.get("Range", "").removeprefix("bytes=")
                body = held.by_range.get(rng)
                self.send_response(206 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                if body:
                    self.wfile.write(body)
                    held.served += 1

        self.server = serve_http(Handler)
        self.port = self.server.server_address[1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def origin():
    o = Origin({"/layer": os.urandom(10 * MiB + 777)}).start()
    yield o
    o.stop()


@pytest.fixture(scope="module")
def supernode(tmp_path_factory):
    port, dport = free_port(), free_port()
    home = tmp_path_factory.mktemp("snhome")
    proc = subprocess.Popen([script("supernode"), "--port", str(port), "--download-port", str(dport),
                             "--home-dir", str(home), "--advertise-ip", "127.0.0.1", "--listen-ip", "127.0.0.1",
                             "--gc-initial-delay", "1h", "--log-level", "WARNING", "--fetch-allow", "127.0.0.0/8,::1",
                             "--peer-up-limit", "4"],     # one peer can serve all a client fetches at once
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_port(port)
        wait_port(dport)
    except TimeoutError:
        proc.kill()
        raise AssertionError(proc.communicate()[0].decode())
    yield {"url": f"http://127.0.0.1:{port}", "dport": dport, "proc": proc, "home": home}
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def walk(sn_url, origin_url, cid, upload_port, held: HeldPieces):
    http = requests.Session()
    reg = http.post(sn_url + "/peer/registry", timeout=(5, 30), json={
        "rawUrl": origin_url + "/layer", "taskUrl": origin_url + "/layer", "cid": cid, "ip": "127.0.0.1",
        "hostName": cid, "port": upload_port, "path": f"/peer/file/{cid}", "version": "1.0.6",
        "superNodeIp": "127.0.0.1"}).json()
    assert reg["code"] == 200, reg
    task_id = reg["data"]["taskId"]
    params = {"taskId": task_id, "srcCid": cid, "status": 700}
    content: dict[int, bytes] = {}
    sources: dict[int, str] = {}
    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline
        body = http.get(sn_url + "/peer/task", params=params, timeout=(5, 30)).json()
        if body["code"] == 600:
            return task_id, content, sources, body["data"]
        assert body["code"] in (601, 602), body
        if body["code"] == 602 or not body["data"]:
            time.sleep(0.05)
            continue
        for info in body["data"]:
            r = http.get(f"http://{info['peerIp']}:{info['peerPort']}{info['path']}", timeout=(5, 30),
                         headers={"Range": f"bytes={info['range']}", "pieceNum": str(info["pieceNum"]),
                                  "pieceSize": str(info["pieceSize"])})
            assert r.status_code == 206
            assert pieces.piece_md5(r.content) == info["pieceMd5"]
            held.by_range[info["range"]] = r.content
            content[info["pieceNum"]] = pieces.unwrap(r.content)
            sources[info["pieceNum"]] = info["cid"]
            suc = http.get(sn_url + "/peer/piece/suc", timeout=(5, 30), params={
                "taskId": task_id, "cid": cid, "dstCid": info["cid"], "pieceRange": info["range"]}).json()
            assert suc["code"] == 611
            params = {"taskId": task_id, "srcCid": cid, "status": 701, "range": info["range"], "result": 503,
                      "dstCid": info["cid"]}


def test_two_clients_walk_to_600_and_the_second_uses_the_first(supernode, origin):
    a_held, b_held = HeldPieces(), HeldPieces()
    try:
        task_id, a_content, a_src, fin = walk(supernode["url"], origin.url, "127.0.0.1-a-1.000", a_held.port, a_held)
        data = origin.files["/layer"]
        assert b"".join(a_content[n] for n in sorted(a_content)) == data
        assert all(c.startswith("cdnnode:") for c in a_src.values())
        assert fin["md5"] == hashlib.md5(data).hexdigest()
        _, b_content, b_src, _ = walk(supernode["url"], origin.url, "127.0.0.1-b-2.000", b_held.port, b_held)
        assert b"".join(b_content[n] for n in sorted(b_content)) == data
        assert set(b_src.values()) == {"127.0.0.1-a-1.000"} and a_held.served == len(b_content)
        assert len(data) <= origin.bytes_sent <= len(data) + 1     # the blob once (plus a 1-byte range probe)
        metrics = requests.get(supernode["url"] + "/metrics", timeout=5).text
        assert f'dragonfly_supernode_pieces_reported_total{{source="peer"}} {float(len(b_content))}' in metrics
        down = requests.get(supernode["url"] + "/v1.0/peer/service/down",
                            params={"taskId": task_id, "cid": "127.0.0.1-a-1.000"}, timeout=5).json()
        assert down["code"] == 612
    finally:
        a_held.stop()
        b_held.stop()


def test_sigterm_stops_cleanly(supernode):
    proc = supernode["proc"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0


def test_bad_config_exits_2(tmp_path):
    bad = tmp_path / "sn.yml"
    bad.write_text("base:\n  no_such_key: 1\n")
    r = subprocess.run([script("supernode"), "--config", str(bad)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "no_such_key" in r.stderr
    r = subprocess.run([script("supernode"), "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "examples:" in r.stdout and "--download-port" in r.stdout
    r = subprocess.run([script("supernode"), "version"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and '"Version"' in r.stdout
