"""The piece server over a real socket, run in its own thread: on gevent.pywsgi.WSGIServer (the body is
iterated) and on the supernode's NoDelayWSGIServer (file bodies go out with os.sendfile)."""
from __future__ import annotations

import socket
import threading
import time

import gevent
import pytest
import requests
from gevent.pywsgi import WSGIServer

from dfcommon.wsgi_server import NoDelayWSGIServer

from supernode.metrics import SupernodeMetrics
from supernode.piece_server import create_piece_server, parse_range, BadRange, Unsatisfiable
from supernode.storage import LocalStorage, MemoryStorage
from tests.helpers import free_port, wait_port

TID = "ab" + "c" * 62
PATH = f"/download/{TID[:3]}/{TID}"
DATA = bytes(range(256)) * 9000          # ~2.2 MiB: more than one 1 MiB block


class ServerThread:
    """Runs a gevent WSGIServer in a thread with its own hub; stopped through that hub."""

    def __init__(self, app, server_class=WSGIServer):
        self.port = free_port()
        self.server_class = server_class
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(app,), daemon=True)

    def _serve(self, app):
        self.hub = gevent.get_hub()
        self.server = self.server_class(("127.0.0.1", self.port), app, log=None, error_log=None)
        self.server.start()
        self._ready.set()
        self.server.serve_forever()

    def start(self):
        self._thread.start()
        self._ready.wait(10)
        wait_port(self.port)
        return self

    def stop(self):
        self.hub.loop.run_callback_threadsafe(lambda: gevent.spawn(self.server.stop, timeout=1))
        self._thread.join(10)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture(params=["local", "memory", "local-sendfile"])
def served(request, tmp_path):
    store = MemoryStorage() if request.param == "memory" else LocalStorage(str(tmp_path))
    server_class = NoDelayWSGIServer if request.param.endswith("sendfile") else WSGIServer
    store.put_atomic(PATH[1:], DATA)
    store.put_atomic(PATH[1:] + ".meta", b"{}")
    metrics = SupernodeMetrics()
    srv = ServerThread(create_piece_server(store, metrics), server_class).start()
    yield srv, metrics, store
    srv.stop()


def sent(metrics):
    return metrics.registry.get_sample_value("dragonfly_supernode_piece_server_bytes_total") or 0


def test_whole_file_and_head(served):
    srv, metrics, _ = served
    r = requests.get(srv.url(PATH), timeout=10)
    assert r.status_code == 200 and r.content == DATA and r.headers["Content-Length"] == str(len(DATA))
    assert r.headers["Accept-Ranges"] == "bytes"
    h = requests.head(srv.url(PATH), timeout=10)
    assert h.status_code == 200 and h.headers["Content-Length"] == str(len(DATA)) and h.content == b""
    assert sent(metrics) == len(DATA)


@pytest.mark.parametrize("header,start,end", [
    ("bytes=0-99", 0, 99),
    ("bytes=1048576-2097151", 1 << 20, (2 << 20) - 1),
    ("bytes=2000000-", 2000000, len(DATA) - 1),
    ("bytes=-500", len(DATA) - 500, len(DATA) - 1),
    ("bytes=100-99999999", 100, len(DATA) - 1),
    ("bytes=-99999999", 0, len(DATA) - 1),
])
def test_ranges(served, header, start, end):
    srv, metrics, _ = served
    r = requests.get(srv.url(PATH), headers={"Range": header}, timeout=10)
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert r.content == DATA[start:end + 1]
    assert sent(metrics) == end - start + 1


@pytest.mark.parametrize("header", [f"bytes={len(DATA)}-", f"bytes={len(DATA) + 5}-{len(DATA) + 10}", "bytes=-0"])
def test_unsatisfiable_range(served, header):
    srv, _, _ = served
    r = requests.get(srv.url(PATH), headers={"Range": header}, timeout=10)
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{len(DATA)}"


@pytest.mark.parametrize("header", ["bytes=5-1", "bytes=a-b", "items=0-1", "bytes=-", "bytes=0-1,5-6", "0-100"])
def test_malformed_range(served, header):
    srv, _, _ = served
    assert requests.get(srv.url(PATH), headers={"Range": header}, timeout=10).status_code == 400


@pytest.mark.parametrize("path", [
    f"/download/{TID[:3]}/{'d' * 64}",                 # unknown id
    f"/download/xyz/{TID}",                            # prefix does not match the id
    f"/download/{TID[:3]}/{TID[:-1]}",                 # not 64 hex
    f"/download/{TID[:3]}/{TID.upper()}",
    f"/download/{TID[:3]}/{TID}.meta",                 # meta files are not served
    "/download/../../etc/passwd",
    "/download/%2e%2e/%2e%2e/etc/passwd",
    f"/download/{TID[:3]}/../{TID[:3]}/{TID}",
    "/", "/repo", "/etc/passwd",
])
def test_not_found_and_traversal(served, path):
    srv, _, _ = served
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:      # raw: no client-side path cleanup
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 404"), reply[:100]


def test_other_methods_rejected(served):
    srv, _, _ = served
    assert requests.post(srv.url(PATH), data=b"x", timeout=10).status_code == 405


def test_empty_file(served):
    srv, _, store = served
    other = "e" * 64
    store.put_atomic(f"download/eee/{other}", b"")
    r = requests.get(srv.url(f"/download/eee/{other}"), timeout=10)
    assert r.status_code == 200 and r.content == b""
    assert requests.get(srv.url(f"/download/eee/{other}"), headers={"Range": "bytes=0-0"},
                        timeout=10).status_code == 416


def test_parse_range_unit():
    assert parse_range("bytes=0-0", 10) == (0, 0)
    with pytest.raises(BadRange):
        parse_range("bytes=", 10)
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=10-", 10)


@pytest.mark.parametrize("server_class", [WSGIServer, NoDelayWSGIServer], ids=["iterated", "sendfile"])
def test_on_sent_names_the_task_and_piece_once_the_body_is_done(tmp_path, server_class):
    store = LocalStorage(str(tmp_path))
    store.put_atomic(PATH[1:], DATA)
    ended = []
    srv = ServerThread(create_piece_server(store, on_sent=lambda task, piece: ended.append((task, piece))),
                       server_class).start()
    try:
        size = 1 << 20
        r = requests.get(srv.url(PATH), headers={"Range": f"bytes={size}-{2 * size - 1}", "pieceNum": "1",
                                                 "pieceSize": str(size)}, timeout=10)
        assert r.status_code == 206 and r.content == DATA[size:2 * size]
        r = requests.get(srv.url(PATH), headers={"Range": f"bytes={2 * size}-{2 * size + 9}",
                                                 "pieceSize": str(size)}, timeout=10)     # no pieceNum: range/size
        assert r.status_code == 206
        assert requests.head(srv.url(PATH), timeout=10).status_code == 200             # no body: no notice
        assert requests.get(srv.url(PATH), headers={"Range": "bytes=5-9"}, timeout=10).status_code == 206
        for _ in range(100):
            if len(ended) >= 2:
                break
            time.sleep(0.02)
        time.sleep(0.1)
        assert sorted(ended) == [(TID, 1), (TID, 2)]  # the plain range read names no piece: no notice
    finally:
        srv.stop()


def test_piece_number_from_headers():
    from supernode.piece_server import piece_number
    assert piece_number({"HTTP_PIECENUM": "7"}, 0) == 7
    assert piece_number({"HTTP_PIECESIZE": "100"}, 300) == 3
    assert piece_number({"HTTP_PIECESIZE": "100"}, 350) is None           # not on a piece boundary
    assert piece_number({"HTTP_PIECENUM": "x", "HTTP_PIECESIZE": "0"}, 0) is None
    assert piece_number({}, 0) is None
