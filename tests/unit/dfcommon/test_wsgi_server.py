"""NoDelayWSGIServer over real sockets: TCP_NODELAY on accepted connections, and file bodies sent with
os.sendfile byte for byte as the iterated body would be (prefix, range, suffix, pacing, short files)."""
from __future__ import annotations

import os
import socket
import threading

import gevent
import pytest
import requests

from dfcommon.wsgi_server import FileRange, NoDelayWSGIServer, SendfileHandler, SendfileSpec
from tests.helpers import free_port, wait_port

DATA = os.urandom(3 * (1 << 20) + 123)


class Served:
    def __init__(self, app, server_class=NoDelayWSGIServer):
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

    def __enter__(self):
        self._thread.start()
        self._ready.wait(10)
        wait_port(self.port)
        return self

    def __exit__(self, *exc):
        self.hub.loop.run_callback_threadsafe(lambda: gevent.spawn(self.server.stop, timeout=1))
        self._thread.join(10)


class Wrapped(FileRange):
    """A body with a header and a tail around the file range, paced block by block."""

    def __init__(self, fd, offset, count, paced):
        super().__init__(fd, offset, count)
        self.paced = paced

    def sendfile_spec(self):
        return SendfileSpec(self.fd, self.offset, self.count, prefix=b"HEAD", suffix=b"\x7f", pace=self.paced.append)


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(DATA)
    return str(path)


def test_file_range_on_a_kept_alive_connection(data_file):
    sent = []

    def app(environ, start_response):
        start, count = 1000, len(DATA) - 2000
        start_response("206 Partial Content", [("Content-Length", str(count))])
        return FileRange(os.open(data_file, os.O_RDONLY), start, count, sent=sent.append)

    with Served(app) as srv:
        with requests.Session() as s:
            for _ in range(2):                                    # two replies on one kept-alive connection
                r = s.get(f"http://127.0.0.1:{srv.port}/x", timeout=10)
                assert r.status_code == 206 and r.content == DATA[1000:len(DATA) - 1000]
    assert sum(sent) == 2 * (len(DATA) - 2000) and max(sent) == 1 << 20


def test_prefix_suffix_and_pacing(data_file):
    paced = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", str(len(DATA) + 5))])
        return Wrapped(os.open(data_file, os.O_RDONLY), 0, len(DATA), paced)

    with Served(app) as srv:
        r = requests.get(f"http://127.0.0.1:{srv.port}/", timeout=10)
    assert r.content == b"HEAD" + DATA + b"\x7f"
    assert sum(paced) == len(DATA) and len(paced) == 4


def test_file_shorter_than_announced_closes_the_connection(data_file):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", str(len(DATA) + 10))])
        return FileRange(os.open(data_file, os.O_RDONLY), 0, len(DATA) + 10)

    with Served(app) as srv:
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            requests.get(f"http://127.0.0.1:{srv.port}/", timeout=10).content


def test_accepted_sockets_have_nodelay():
    seen = []

    class Handler(SendfileHandler):
        def handle(self):
            seen.append(self.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            return super().handle()

    class Probe(NoDelayWSGIServer):
        handler_class = Handler

    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    with Served(app, Probe) as srv:
        assert requests.get(f"http://127.0.0.1:{srv.port}/", timeout=10).content == b"ok"
    assert seen and seen[0] != 0
