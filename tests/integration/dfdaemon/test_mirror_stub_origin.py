"""Origin behaviours a real registry cannot produce, played by the scripted stub registry: bodies that do
not hash to their digest, redirects to storage on another host, challenges on blobs."""
from __future__ import annotations

import hashlib

import pytest
import requests

from tests.fixtures.stub_registry import StubRegistry

from .mirror_stack import sha256

pytestmark = pytest.mark.slow

GOOD = b"good layer bytes " * 70000
GOOD_DIGEST = "sha256:" + hashlib.sha256(GOOD).hexdigest()
BAD_DIGEST = "sha256:" + hashlib.sha256(b"what the manifest promised").hexdigest()


@pytest.fixture
def stub():
    s = StubRegistry().start()
    s.route("GET", "/v2/", lambda req: (200, {}, b"{}"))
    yield s
    s.stop()


@pytest.mark.parametrize("mode", ["direct", "p2p"])
def test_bytes_not_matching_the_digest_abort_the_response(stub, supernode, dfdaemon_factory, mode):
    stub.route("GET", f"/v2/stub/app/blobs/{BAD_DIGEST}", lambda req: (200, {}, GOOD))
    extra = {"registry_mirror": {"remote": stub.url, "direct": mode == "direct"}}
    host = dfdaemon_factory(nodes=[supernode.node], extra=extra)
    with pytest.raises(requests.exceptions.RequestException):
        r = requests.get(f"{host.url}/v2/stub/app/blobs/{BAD_DIGEST}", timeout=60)
        # a response that started must not complete: it is cut before its last byte
        assert r.status_code >= 400
        raise requests.exceptions.ConnectionError(f"error status {r.status_code}")
    assert host.incoming_files() == [] and host.cached_files() == []
    assert host.metric("dragonfly_dfdaemon_blob_download_failures_total") >= 1


def test_redirect_to_storage_drops_authorization(stub, dfdaemon_factory):
    path = f"/v2/stub/app/blobs/{GOOD_DIGEST}"
    storage = f"http://localhost:{stub.port}/storage/{GOOD_DIGEST}"
    stub.route("GET", path, lambda req: (307, {"Location": storage}, b""))

    def storage_route(req):
        if req.header("Authorization"):
            return 400, {}, b"only one auth mechanism allowed"
        return 200, {"Content-Type": "application/octet-stream"}, GOOD
    stub.route("GET", f"/storage/{GOOD_DIGEST}", storage_route)
    host = dfdaemon_factory(extra={"registry_mirror": {"remote": stub.url, "direct": True}})
    r = requests.get(host.url + path, headers={"Authorization": "Bearer opaque-token"}, timeout=30)
    assert r.status_code == 200 and sha256(r.content) == GOOD_DIGEST
    blob_gets = [q for q in stub.requests if q.path == path and q.method == "GET"]
    assert blob_gets and all(q.header("Authorization") == "Bearer opaque-token" for q in blob_gets)
    stored = [q for q in stub.requests if q.path.startswith("/storage/")]
    assert stored and all(q.header("Authorization") is None for q in stored)
    assert [v for k, v in stored[-1].headers if k.lower() == "host"] == [f"localhost:{stub.port}"]


def test_blob_challenge_is_relayed(stub, dfdaemon_factory):
    challenge = f'Bearer realm="http://127.0.0.1:{stub.port}/token",service="stub",scope="repository:stub/app:pull"'
    stub.route("GET", f"/v2/stub/app/blobs/{GOOD_DIGEST}",
               lambda req: (401, {"WWW-Authenticate": challenge}, b'{"errors":[{"code":"UNAUTHORIZED"}]}'))
    stub.route("GET", "/token", lambda req: (200, {"Content-Type": "application/json"},
                                             b'{"token": "anonymous-token", "expires_in": 300}'))
    host = dfdaemon_factory(extra={"registry_mirror": {"remote": stub.url, "direct": True}})
    r = requests.get(f"{host.url}/v2/stub/app/blobs/{GOOD_DIGEST}", timeout=30)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith('Bearer realm="http://127.0.0.1')
    assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"


@pytest.fixture
def dying_origin():
    """An origin that sends half of a blob and then drops the connection (a crash mid-transfer)."""
    import socket
    import threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                request = conn.recv(65536)
                head = request.startswith(b"HEAD")
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(GOOD))
                if not head:
                    conn.sendall(GOOD[:len(GOOD) // 2])
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    srv.close()


def test_origin_dying_mid_blob_is_an_error_and_leaves_nothing(dying_origin, dfdaemon_factory):
    host = dfdaemon_factory(extra={"registry_mirror": {"remote": dying_origin, "direct": True}})
    with pytest.raises(requests.exceptions.RequestException):
        r = requests.get(f"{host.url}/v2/stub/app/blobs/{GOOD_DIGEST}", timeout=60)
        assert r.status_code >= 400, "a truncated blob must not be served as complete"
        raise requests.exceptions.ConnectionError(r.json()["errors"][0]["code"])
    assert host.incoming_files() == [] and host.cached_files() == []
