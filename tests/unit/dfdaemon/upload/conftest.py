"""Fixtures for the upload server tests: real sockets on free ports, stopped afterwards."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.helpers import free_port


class ThreadedServer:
    """Serves a WSGI app on 127.0.0.1:<free port> in a background thread."""

    def __init__(self, app):
        self.port = free_port()
        self._srv = make_server("127.0.0.1", self.port, app, threaded=True)
        self._thread = threading.Thread(target=self._srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._srv.shutdown()
        self._srv.server_close()
        self._thread.join(5)


class SupernodeStandIn:
    """A small real HTTP server standing in for the supernode's ``/peer/service/down``
    endpoint (the supernode itself is built elsewhere); it records each call."""

    def __init__(self):
        self.calls: list[dict] = []
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        req = Request(environ)
        if req.path == "/peer/service/down":
            with self._lock:
                self.calls.append(dict(req.args))
            resp = Response('{"code":612,"msg":"success"}', content_type="application/json")
        else:
            resp = Response("not found", status=404)
        return resp(environ, start_response)

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self.calls)


@pytest.fixture
def supernode():
    standin = SupernodeStandIn()
    with ThreadedServer(standin) as srv:
        srv.standin = standin
        yield srv
