import os
import threading

import pytest
import requests

from supernode.app import create_app
from supernode.config import load_config
from supernode.piece_server import create_piece_server
from supernode.services import build_services
from tests.helpers import free_port, wait_port

from .origin_http import Origin

MiB = 1 << 20


class GeventThread:
    """Runs gevent WSGI servers on a hub of their own, in a background thread."""

    def __init__(self, apps: list[tuple[int, object]]):
        self.apps = apps
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import gevent
        from gevent.pywsgi import WSGIServer
        servers = [WSGIServer(("127.0.0.1", port), app, log=None) for port, app in self.apps]
        for s in servers:
            s.start()
        while not self._stop.is_set():
            gevent.sleep(0.02)
        for s in servers:
            s.stop(timeout=1)

    def start(self):
        self._thread.start()
        for port, _ in self.apps:
            wait_port(port)
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(5)


class Supernode:
    def __init__(self, tmp_path, **overrides):
        self.port, self.download_port = free_port(), free_port()
        opts = {"storage_driver": "memory", "home_dir": str(tmp_path), "port": self.port,
                "download_port": self.download_port, "max_body_size": "64KB",
                "fetch": {"allow": ["127.0.0.0/8", "::1"]}}   # origins run on loopback
        opts.update(overrides)
        self.config = load_config(overrides=opts, environ={})
        self.services = build_services(self.config)
        self.app = create_app(self.config, self.services)
        self.runner = GeventThread([(self.port, self.app),
                                    (self.download_port, create_piece_server(self.services.storage))]).start()
        self.url = f"http://127.0.0.1:{self.port}"
        self.http = requests.Session()

    def get(self, path, **kw):
        kw.setdefault("timeout", (5, 30))
        return self.http.get(self.url + path, **kw)

    def post(self, path, **kw):
        kw.setdefault("timeout", (5, 30))
        return self.http.post(self.url + path, **kw)

    def stop(self):
        self.runner.stop()
        self.services.close()


@pytest.fixture(scope="module")
def origin():
    data = os.urandom(9 * MiB + 12345)
    o = Origin({"/blob": data, "/small": b"hello dragonfly", "/empty": b"", "/private/blob": b"secret"}).start()
    o.data = data
    yield o
    o.stop()


@pytest.fixture(scope="module")
def sn(tmp_path_factory):
    s = Supernode(tmp_path_factory.mktemp("sn"))
    yield s
    s.stop()


def register_body(origin_url, path="/blob", cid="10.0.0.1-1234-1.000", **extra):
    body = {"rawUrl": origin_url + path, "taskUrl": origin_url + path, "cid": cid, "ip": "10.0.0.1",
            "hostName": "host1", "port": 15001, "path": "/peer/file/blob-1234-1.000", "version": "1.0.6",
            "callSystem": "test", "superNodeIp": "127.0.0.1"}
    body.update(extra)
    return body
