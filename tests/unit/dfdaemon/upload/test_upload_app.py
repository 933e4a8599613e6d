"""The upload WSGI app over a real socket."""
import http.client
import os

import pytest
import requests

from dfcommon import pieces
from dfdaemon.upload import create_upload_app

from .conftest import ThreadedServer

PS = 4 * pieces.MiB


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    (tmp_path / "secret").write_bytes(b"TOP-SECRET")
    return d


@pytest.fixture
def blob(data_dir):
    data = os.urandom(2 * (PS - 5) + 12345)
    (data_dir / "task-a").write_bytes(data)
    return data


@pytest.fixture
def served(data_dir):
    hits = []
    app = create_upload_app(str(data_dir), on_idle=lambda: hits.append(1),
                            authorize=lambda req: req.headers.get("X-Deny") is None)
    with ThreadedServer(app) as srv:
        srv.hits, srv.app = hits, app
        yield srv


def piece_headers(n, ps=PS, **extra):
    return {"Range": "bytes=" + pieces.range_string(n, ps), "pieceNum": str(n), "pieceSize": str(ps), **extra}


def raw_get(port, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_pieces_match_cdn_md5(served, blob):
    total = pieces.piece_total(len(blob), PS)
    assert total == 3
    for n in range(total):
        r = requests.get(f"{served.url}/peer/file/task-a", headers=piece_headers(n), timeout=10)
        assert r.status_code == 206
        assert r.headers["Content-Type"] == "application/octet-stream"
        off, size = pieces.source_span(n, PS, len(blob))
        expected = pieces.wrap(blob[off:off + size], PS)
        assert int(r.headers["Content-Length"]) == len(expected) == len(r.content)
        assert pieces.piece_md5(r.content) == pieces.piece_md5(expected)
        assert pieces.parse_header(r.content) == (size, PS)


def test_head_reports_length_only(served, blob):
    r = requests.head(f"{served.url}/peer/file/task-a", headers=piece_headers(2), timeout=10)
    assert r.status_code == 206 and int(r.headers["Content-Length"]) == len(blob) - 2 * (PS - 5) + 5


def test_source_pattern_is_not_wrapped(served, blob):
    r = requests.get(f"{served.url}/peer/file/task-a", timeout=10,
                     headers={"Range": f"bytes={PS}-{2 * PS - 1}", "pieceNum": "1", "pieceSize": str(PS),
                              "cdnSource": "source"})
    assert r.status_code == 206
    assert r.content == blob[PS:2 * PS]


def test_errors(served, blob):
    url = f"{served.url}/peer/file/"
    assert requests.get(url + "nope", headers=piece_headers(0), timeout=5).status_code == 404
    assert requests.get(url + "task-a", headers=piece_headers(3), timeout=5).status_code == 416
    assert requests.get(url + "task-a", headers={"Range": "bytes=0-9"}, timeout=5).status_code == 400
    bad = requests.get(url + "task-a", headers=piece_headers(0, pieceNum="zero"), timeout=5)
    assert bad.status_code == 400 and "Traceback" not in bad.text
    assert requests.get(url + "task-a", headers=piece_headers(0, **{"X-Deny": "1"}), timeout=5).status_code == 403


@pytest.mark.parametrize("path", [
    "/peer/file/../secret", "/peer/file/..%2Fsecret", "/peer/file/%2e%2e/secret", "/peer/file/sub/../../secret",
    "/peer/file/..", "/peer/file/%2e%2e", "/peer/file/link",
])
def test_nothing_outside_data_dir(served, data_dir, path):
    os.symlink(data_dir.parent / "secret", data_dir / "link")
    status, body = raw_get(served.port, path, {"Range": "bytes=0-9", "pieceNum": "0", "pieceSize": "10",
                                               "cdnSource": "source"})
    assert status in (400, 404)
    assert b"TOP-SECRET" not in body


def test_control_routes(served):
    base = served.url
    assert requests.get(base + "/server/ping", timeout=5).text == "success"
    r = requests.get(base + "/check/task-b", headers={"dataDir": "/elsewhere", "totalLimit": "0"}, timeout=5)
    assert r.status_code == 200 and r.text.startswith("task-b@")
    assert served.app.service.tasks.get("task-b").finished is False
    q = {"taskFileName": "task-b", "taskID": "t1", "cid": "c1", "superNode": "10.0.0.1:8002"}
    assert requests.get(base + "/client/finish", params=q, timeout=5).text == "success"
    rec = served.app.service.tasks.get("task-b")
    assert (rec.finished, rec.task_id, rec.cid, rec.super_node) == (True, "t1", "c1", "10.0.0.1:8002")
    assert requests.get(base + "/client/finish", params={"taskFileName": "x"}, timeout=5).status_code == 400
    q["taskFileName"] = "../x"
    assert requests.get(base + "/client/finish", params=q, timeout=5).status_code == 400
    assert requests.get(base + "/rate/task-b", headers={"rateLimit": "fast"}, timeout=5).status_code == 400
    assert requests.get(base + "/unknown", timeout=5).status_code == 404


def test_idle_clock_hits(served, blob):
    requests.get(served.url + "/server/ping", timeout=5)
    requests.get(served.url + "/client/finish", timeout=5)
    assert served.hits == []
    requests.get(served.url + "/check/task-a", timeout=5)
    requests.get(served.url + "/rate/task-a", headers={"rateLimit": "1000"}, timeout=5)
    requests.get(served.url + "/peer/file/task-a", headers=piece_headers(0), timeout=5)
    assert len(served.hits) == 3


def test_rate_grants_are_proportional(served):
    base = served.url

    def rate(name, value):
        r = requests.get(f"{base}/rate/{name}", headers={"rateLimit": str(value)}, timeout=5)
        assert r.status_code == 200
        return int(r.text)

    assert rate("a", 80) == 80                      # no total limit yet
    requests.get(base + "/check/a", headers={"totalLimit": "100"}, timeout=5)
    requests.get(base + "/check/b", headers={"totalLimit": "100"}, timeout=5)
    assert rate("a", 80) == 80                      # 80 <= 100
    assert rate("b", 120) == 60                     # ceil(120*100/200)
    assert rate("a", 80) == 40                      # ceil(80*100/200)
    assert rate("a", 70) == 37                      # ceil(70*100/190)
    requests.get(base + "/client/finish", params={"taskFileName": "b", "taskID": "t", "cid": "c"}, timeout=5)
    assert rate("a", 80) == 80                      # finished tasks no longer count


def test_total_limit_paces_but_serves_whole_piece(data_dir):
    data = os.urandom(pieces.MiB - 5)
    (data_dir / "small").write_bytes(data)
    app = create_upload_app(str(data_dir), total_limit=4 * pieces.MiB)
    assert app.service.rate.total_limit == 4 * pieces.MiB
    with ThreadedServer(app) as srv:
        r = requests.get(srv.url + "/peer/file/small", headers=piece_headers(0, ps=pieces.MiB), timeout=10)
    assert r.status_code == 206 and pieces.unwrap(r.content) == data
