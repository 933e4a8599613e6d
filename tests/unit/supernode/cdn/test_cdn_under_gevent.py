"""The CDN and the piece server in a gevent monkey-patched process, as the supernode runs them."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent('''
    from gevent import monkey
    monkey.patch_all()
    import hashlib, sys, threading
    import requests
    from gevent.pywsgi import WSGIServer
    from dfcommon import pieces
    from dfcommon.task_id import task_id
    from supernode.config import load_config
    from supernode.cdn import CdnManager, SourceRequest
    from supernode.piece_server import create_piece_server
    from supernode.storage import LocalStorage
    from tests.unit.supernode.cdn.origin import Origin

    home = sys.argv[1]
    origin = Origin().start()
    data = bytes(range(256)) * 12000
    origin.add("/g", data)
    url = origin.url("/g")
    req = SourceRequest(task_id(url, ""), url, url)
    store = LocalStorage(home)
    conf = {"home_dir": home, "source_streams": int(sys.argv[2]), "source_chunk": sys.argv[3],
            "fetch": {"allow": ["127.0.0.0/8", "::1"]}}
    mgr = CdnManager(load_config(None, conf, environ={}), store)
    done = threading.Event()
    got = {}

    class L:
        def on_piece(self, t, n, md5): got[n] = md5
        def on_success(self, *a): got["ok"] = a; done.set()
        def on_failure(self, *a): got["err"] = a; done.set()

    mgr.set_listener(L())
    info = mgr.probe(req)
    for _ in range(5):
        mgr.trigger(req, 1 << 20, info.length)
    assert done.wait(30), "no result"
    assert "ok" in got, got
    assert got["ok"][2] == hashlib.md5(data).hexdigest()
    server = WSGIServer(("127.0.0.1", 0), create_piece_server(store), log=None)
    server.start()
    r = requests.get("http://127.0.0.1:%d%s" % (server.server_port, mgr.piece_path(req.task_id)),
                     headers={"Range": "bytes=" + pieces.range_string(1, 1 << 20)}, timeout=10)
    assert r.status_code == 206 and pieces.piece_md5(r.content) == got[1], r.status_code
    server.stop()
    origin.stop()
    chunks = [h for h in origin.served("/g") if h.get("range", "bytes=0-0") != "bytes=0-0"]
    assert origin.download_bytes == len(data), origin.download_bytes
    print("OK", len(got) - 1, len(chunks))
''')


@pytest.mark.parametrize("streams,chunk,requests", [(1, "16MB", 0), (2, "1MB", 3)],
                         ids=["one-connection", "two-connections"])
def test_cdn_and_piece_server_under_gevent(tmp_path, streams, chunk, requests):
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), str(streams), chunk], capture_output=True,
                         text=True, timeout=120, cwd=str(__import__("pathlib").Path(__file__).resolve().parents[4]))
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == f"OK 3 {requests}"
