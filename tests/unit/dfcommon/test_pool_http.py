"""PoolClient against real HTTP(S) servers on loopback: requests, bodies, errors, pooling, TLS, proxies."""
from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest

from dfcommon.pool_http import HttpError, PoolClient
from dfcommon.tls import make_test_pki, server_context
from tests.helpers import free_port, serve_http


class Recorder:
    """A keep-alive server that records each request (method, path, headers, body, client port)."""

    def __init__(self, ssl_context=None, body: bytes = b'{"code": 200}', delay: float = 0.0):
        self.seen: list[dict] = []
        self.body, self.delay = body, delay
        rec = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                rec.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                 "body": self.rfile.read(n) if n else b"", "port": self.client_address[1]})
                if rec.delay:
                    time.sleep(rec.delay)
                self.send_response(200)
                self.send_header("Content-Length", str(len(rec.body)))
                self.end_headers()
                self.wfile.write(rec.body)

            do_GET = do_POST = _any

        self.httpd = serve_http(Handler, ssl_context=ssl_context)
        self.port = self.httpd.server_address[1]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = Recorder()
    yield srv
    srv.stop()


T = (2.0, 2.0)


def test_get_with_params_headers_and_user_agent(server):
    http = PoolClient(user_agent="dfget/test")
    with http.request("GET", f"http://127.0.0.1:{server.port}/peer/task", timeout=T,
                      params={"taskId": "a b", "range": "0-9"}, headers={"X-One": "1"}) as resp:
        assert resp.status == 200
        assert resp.json() == {"code": 200}
    seen = server.seen[0]
    assert seen["path"] == "/peer/task?taskId=a+b&range=0-9"
    assert seen["headers"]["X-One"] == "1" and seen["headers"]["User-Agent"] == "dfget/test"


def test_post_json_body(server):
    with PoolClient().request("POST", f"http://127.0.0.1:{server.port}/peer/registry", timeout=T,
                              json={"cid": "c1", "port": 7}) as resp:
        resp.read()
    seen = server.seen[0]
    assert json.loads(seen["body"]) == {"cid": "c1", "port": 7}
    assert seen["headers"]["Content-Type"] == "application/json"


def test_body_streams_in_blocks():
    srv = Recorder(body=os.urandom(3 * 1000 + 17))
    try:
        with PoolClient().request("GET", f"http://127.0.0.1:{srv.port}/b", timeout=T) as resp:
            blocks = list(resp.blocks(1000))
        assert [len(b) for b in blocks] == [1000, 1000, 1000, 17]
        assert b"".join(blocks) == srv.body
    finally:
        srv.stop()


def test_connection_is_reused_after_a_complete_body_and_dropped_after_a_partial_one():
    srv = Recorder(body=b"x" * 200_000)
    try:
        http = PoolClient()
        url = f"http://127.0.0.1:{srv.port}/b"
        for _ in range(3):
            with http.request("GET", url, timeout=T) as resp:
                resp.read()
        assert len({s["port"] for s in srv.seen}) == 1          # one kept-alive connection
        with http.request("GET", url, timeout=T) as resp:
            next(resp.blocks(1000))                             # stop early: the rest is unread
        with http.request("GET", url, timeout=T) as resp:
            assert resp.read() == srv.body                      # a fresh connection, not the half-read one
        assert len({s["port"] for s in srv.seen}) == 2
    finally:
        srv.stop()


def test_refused_connection_is_a_connect_error():
    with pytest.raises(HttpError) as ei:
        PoolClient().request("GET", f"http://127.0.0.1:{free_port()}/x?token=secret", timeout=T)
    assert ei.value.kind == "connect"
    assert "secret" not in str(ei.value)                       # queries may carry tokens


def test_slow_reply_is_a_timeout():
    srv = Recorder(delay=1.0)
    try:
        with pytest.raises(HttpError) as ei:
            PoolClient().request("GET", f"http://127.0.0.1:{srv.port}/slow", timeout=(1.0, 0.2))
        assert ei.value.kind == "timeout"
    finally:
        srv.stop()


def test_body_cut_short_raises_when_read():
    class Short(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.wfile.flush()
            self.close_connection = True

    httpd = serve_http(Short)
    try:
        with PoolClient().request("GET", f"http://127.0.0.1:{httpd.server_address[1]}/", timeout=T) as resp:
            with pytest.raises(HttpError) as ei:
                resp.read()
        assert ei.value.kind == "connect"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_test_pki(str(tmp_path_factory.mktemp("pki")))


def test_tls_verified_with_a_ca_bundle_and_refused_without(pki):
    srv = Recorder(ssl_context=server_context(pki["cert"], pki["key"], cooperative=False))
    try:
        url = f"https://127.0.0.1:{srv.port}/x"
        http = PoolClient()
        with http.request("GET", url, timeout=T, verify=pki["ca"]) as resp:
            assert resp.json() == {"code": 200}
        with pytest.raises(HttpError) as ei:                     # the public bundle does not know our CA
            http.request("GET", url, timeout=T, verify=True)
        assert ei.value.kind == "connect"
        with http.request("GET", url, timeout=T, verify=False) as resp:
            assert resp.status == 200
    finally:
        srv.stop()


def test_environment_proxy_only_for_origin_requests(monkeypatch, server):
    proxy = Recorder(body=b"via proxy")
    try:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        http = PoolClient()
        url = f"http://127.0.0.1:{server.port}/blob"
        with http.request("GET", url, timeout=T) as resp:                     # cluster traffic: direct
            assert resp.json() == {"code": 200}
        with http.request("GET", url, timeout=T, env_proxies=True) as resp:   # an origin: through the proxy
            assert resp.read() == b"via proxy"
        assert proxy.seen[0]["path"] == url                                   # absolute-form request line
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        with http.request("GET", url, timeout=T, env_proxies=True) as resp:   # NO_PROXY wins
            assert resp.json() == {"code": 200}
        assert len(proxy.seen) == 1
    finally:
        proxy.stop()


def test_shared_between_threads(server):
    http = PoolClient(pool_size=4)
    errors: list[Exception] = []

    def worker():
        try:
            for _ in range(20):
                with http.request("GET", f"http://127.0.0.1:{server.port}/t", timeout=T) as resp:
                    assert resp.json() == {"code": 200}
        except Exception as e:          # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(server.seen) == 160
