"""Limits on a real supernode process: request headers too large (431), a slowloris request head (408), a
client that stops sending its body, the cap on back-to-source downloads (503) and on pending preheats (503),
each counted in dragonfly_supernode_limit_refused_total."""
from __future__ import annotations

import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from tests.fixtures.supernode_config import PreheatSupernode
from tests.helpers import serve_http


def _limits(url) -> dict:
    text = requests.get(url + "/metrics", timeout=5).text
    return {m.group(1): float(m.group(2)) for m in
            re.finditer(r'^dragonfly_supernode_limit_refused_total\{limit="(\w+)"\} (\S+)$', text, re.M)}


class SlowOrigin:
    """Answers range probes at once and sends full bodies slowly (a download that stays running)."""

    def __init__(self):
        self.release = threading.Event()

        origin = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                size = 4 << 20
                if self.headers.get("Range") == "bytes=0-0":
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes 0-0/{size}")
                    self.send_header("Content-Length", "1")
                    self.end_headers()
                    self.wfile.write(b"x")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                sent = 0
                while sent < size:
                    if not origin.release.wait(0.05):
                        continue
                    self.wfile.write(b"x" * (1 << 20))
                    sent += 1 << 20

        self.srv = serve_http(H)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}"

    def stop(self):
        self.release.set()
        self.srv.shutdown()


@pytest.fixture(scope="module")
def sn(tmp_path_factory):
    s = PreheatSupernode(tmp_path_factory.mktemp("sn-limits"), preheat={"max_pending": 1},
                         base={"max_header_size": "4KB", "request_head_timeout": "1s", "client_read_timeout": "1s",
                               "max_source_downloads": 1}).start()
    yield s
    s.stop()


def test_headers_too_large_get_431(sn):
    r = requests.get(sn.url + "/_ping", headers={f"X-Big-{i}": "y" * 200 for i in range(40)}, timeout=5)
    assert r.status_code == 431
    assert requests.get(sn.url + "/_ping", timeout=5).status_code == 200
    assert _limits(sn.url).get("header_size", 0) >= 1


def test_slowloris_head_is_cut_off_with_408(sn):
    s = socket.create_connection(("127.0.0.1", sn.port), timeout=10)
    try:
        s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n")
        got, start = b"", time.monotonic()
        for i in range(40):                        # one header line every 0.2 s: never a whole head
            try:
                s.sendall(b"X-Drip-%d: a\r\n" % i)
            except OSError:
                break
            s.settimeout(0.2)
            try:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            except socket.timeout:
                pass
        assert got.startswith(b"HTTP/1.1 408"), got
        assert time.monotonic() - start < 6
    finally:
        s.close()
    assert _limits(sn.url).get("head_timeout", 0) >= 1
    assert requests.get(sn.url + "/_ping", timeout=5).status_code == 200


def test_a_client_that_stops_sending_its_body_is_dropped(sn):
    s = socket.create_connection(("127.0.0.1", sn.port), timeout=10)
    try:
        s.sendall(b"POST /peer/registry HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 500\r\n\r\n{\"rawUrl\": ")
        s.settimeout(8)
        start = time.monotonic()
        data = s.recv(4096)                   # the connection ends (with or without a reply), not after minutes
        assert time.monotonic() - start < 8
        assert not data.startswith(b"HTTP/1.1 500")
    finally:
        s.close()
    assert requests.get(sn.url + "/_ping", timeout=5).status_code == 200
    assert "Traceback" not in sn.log_tail(10 ** 6)


def test_back_to_source_cap_and_pending_preheat_cap_answer_503(sn):
    origin = SlowOrigin()
    try:
        body = {"cid": "10.0.0.1-1-1.000", "ip": "10.0.0.1", "hostName": "h", "port": 15001, "path": "/peer/file/x",
                "version": "1.0.6", "callSystem": "t", "superNodeIp": "127.0.0.1"}
        first = requests.post(sn.url + "/peer/registry", json={**body, "rawUrl": origin.url + "/a",
                                                                "taskUrl": origin.url + "/a"}, timeout=(5, 30))
        assert first.status_code == 200, first.text
        second = requests.post(sn.url + "/peer/registry", json={**body, "rawUrl": origin.url + "/b",
                                                                 "taskUrl": origin.url + "/b"}, timeout=(5, 30))
        assert second.status_code == 503 and "max_source_downloads" in second.text, second.text
        assert _limits(sn.url).get("source_downloads", 0) >= 1
        # a preheat of the running task is pending; a second one beyond preheat.max_pending is 503
        r = requests.post(sn.url + "/preheats", json={"type": "file", "url": origin.url + "/a"}, timeout=(5, 30))
        assert r.status_code == 201, r.text
        r = requests.post(sn.url + "/preheats", json={"type": "file", "url": origin.url + "/c"}, timeout=(5, 30))
        assert r.status_code == 503 and "max_pending" in r.text, r.text
        assert _limits(sn.url).get("preheat_queue", 0) >= 1
    finally:
        origin.stop()
