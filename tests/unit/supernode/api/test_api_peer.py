import hashlib
import time

import pytest

from dfcommon import pieces
from dfcommon import task_id as tid

from .conftest import MiB, register_body

PIECE_KEYS = ["range", "pieceNum", "pieceSize", "pieceMd5", "cid", "peerIp", "peerPort", "path", "downLink"]


def register(sn, origin, **kw):
    r = sn.post("/peer/registry", json=register_body(origin.url, **kw))
    assert r.status_code == 200, r.text
    return r.json()


def pull(sn, task_id, cid, **params):
    r = sn.get("/peer/task", params={"taskId": task_id, "srcCid": cid, **params})
    assert r.status_code == 200, r.text
    return r.json()


def test_register_json_replies_like_dragonfly(sn, origin):
    body = register(sn, origin)
    assert body["code"] == 200 and body["msg"] == "success"
    data = body["data"]
    assert data["taskId"] == tid.task_id(origin.url + "/blob")
    assert data["fileLength"] == len(origin.data) and data["pieceSize"] == pieces.auto_piece_size(len(origin.data))
    assert data["cdnSource"] == "supernode"


def test_register_form_with_other_key_spellings_and_version_prefix(sn, origin):
    form = {"rawURL": origin.url + "/small", "taskURL": origin.url + "/small", "cID": "10.0.0.2-1-2.000",
            "IP": "10.0.0.2", "HOSTNAME": "h2", "Port": "15002", "Path": "/peer/file/x", "headers": ["A:1", "B: 2"]}
    r = sn.post("/v1.0/peer/registry", data=form)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["taskId"] == tid.task_id(origin.url + "/small")
    assert r.json()["data"]["fileLength"] == len(b"hello dragonfly")


def test_walk_the_pull_loop_to_600_with_md5_checked_pieces(sn, origin):
    cid = "10.0.0.3-77-3.000"
    task_id = register(sn, origin, cid=cid)["data"]["taskId"]
    body = pull(sn, task_id, cid, status=700)
    got: dict[int, bytes] = {}
    deadline = time.monotonic() + 60
    while body["code"] != 600:
        assert time.monotonic() < deadline, body
        assert body["code"] in (601, 602), body
        if body["code"] == 602:
            time.sleep(0.05)
            body = pull(sn, task_id, cid, status=701 if got else 700, **({"range": last, "result": 503,
                                                                              "dstCid": dst} if got else {}))
            continue
        for info in body["data"] or []:
            assert list(info) == PIECE_KEYS
            assert info["peerIp"] == "127.0.0.1" and info["peerPort"] == sn.download_port
            assert info["path"] == f"/download/{task_id[:3]}/{task_id}" and info["cid"].startswith("cdnnode:")
            start, end = pieces.parse_range(info["range"])
            r = sn.http.get(f"http://127.0.0.1:{sn.download_port}{info['path']}",
                            headers={"Range": f"bytes={start}-{end}"}, timeout=(5, 30))
            assert r.status_code == 206
            md5, length = info["pieceMd5"].split(":")
            assert hashlib.md5(r.content).hexdigest() == md5 and len(r.content) == int(length)
            got[info["pieceNum"]] = pieces.unwrap(r.content)
            last, dst = info["range"], info["cid"]
            ok = sn.get("/peer/piece/suc", params={"taskId": task_id, "cid": cid, "dstCid": dst,
                                                   "pieceRange": last}).json()
            assert ok["code"] == 611
        body = pull(sn, task_id, cid, status=701, range=last, result=503, dstCid=dst)
    assert b"".join(got[n] for n in sorted(got)) == origin.data
    assert body["data"]["md5"] == hashlib.md5(origin.data).hexdigest()
    assert body["data"]["fileLength"] == pieces.wrapped_length(len(origin.data), pieces.auto_piece_size(len(origin.data)))
    assert pull(sn, task_id, cid, status=702, result=501)["code"] == 600
    assert sn.get("/peer/service/down", params={"taskId": task_id, "cid": cid}).json()["code"] == 612
    text = sn.get("/metrics").text
    assert f'dragonfly_supernode_pieces_reported_total{{source="supernode"}} {float(len(got))}' in text
    assert "dragonfly_supernode_pieces_downloaded_size_bytes_total" in text


@pytest.mark.parametrize("path,code", [("/missing", 607), ("/private/blob", 608)])
def test_register_source_errors_are_http_500_with_the_code(sn, origin, path, code):
    r = sn.post("/peer/registry", json=register_body(origin.url, path=path, cid=f"c-{code}"))
    assert r.status_code == 500 and r.json()["code"] == code and r.json()["message"]


def test_register_private_source_with_token_works(sn, origin):
    body = register(sn, origin, path="/private/blob", cid="c-auth", headers=["Authorization:Bearer good"])
    assert body["data"]["fileLength"] == len(b"secret")


def test_register_task_id_conflict_is_606(sn, origin):
    register(sn, origin, path="/small", cid="c-md5", md5="x")
    r = sn.post("/peer/registry", json=register_body(origin.url, path="/small", cid="c-ident", identifier="x"))
    assert r.status_code == 500 and r.json()["code"] == 606


@pytest.mark.parametrize("body,fragment", [
    ({"cid": "c"}, "rawUrl"),
    ({"rawUrl": "ftp://x/y", "cid": "c"}, "rawUrl"),
    ({"port": "abc"}, "port"),
    ({"port": 70000}, "port"),
    ({"ip": "not-an-ip"}, "ip"),
    ({"cid": "cdnnode:1.2.3.4~x"}, "cid"),
    ({"headers": "no-colon"}, "headers"),
    ({"rootCAs": ["***"]}, "rootCAs"),
    ({"pattern": "weird"}, "pattern"),
])
def test_register_bad_input_is_400_in_the_dragonfly_envelope(sn, origin, body, fragment):
    full = register_body(origin.url)
    full.update(body)
    if "rawUrl" in body or body == {"cid": "c"}:
        full.pop("rawUrl") if "rawUrl" not in body else None
    r = sn.post("/peer/registry", json=full)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == 501 and fragment in r.json()["message"]


@pytest.mark.parametrize("raw,ctype", [(b"{not json", "application/json"), (b"[1,2]", "application/json"),
                                       (b"", "application/json")])
def test_register_unparsable_bodies(sn, raw, ctype):
    r = sn.post("/peer/registry", data=raw, headers={"Content-Type": ctype})
    assert r.status_code == 400 and r.json()["code"] == 501


def test_huge_body_is_413(sn):
    r = sn.post("/peer/registry", data=b"{" + b" " * (200 * 1024) + b"}", headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == 501


@pytest.mark.parametrize("params", [
    {"taskId": "../../etc/passwd", "srcCid": "c", "status": 700},
    {"taskId": "A" * 64, "srcCid": "c", "status": 700},
    {"taskId": "a" * 64, "srcCid": "c", "status": 799},
    {"taskId": "a" * 64, "status": 700},
    {"taskId": "a" * 64, "srcCid": "c", "status": 701, "result": 501},
    {"taskId": "a" * 64, "srcCid": "c", "status": 701, "result": "x", "range": "0-9"},
    {"taskId": "a" * 64, "srcCid": "c", "status": "x"},
])
def test_pull_bad_parameters_are_400(sn, params):
    r = sn.get("/peer/task", params=params)
    assert r.status_code == 400 and r.json()["code"] == 501


def test_pull_unknown_task_is_502_in_a_200_result(sn):
    body = pull(sn, "b" * 64, "nobody", status=700)
    assert body["code"] == 502 and body["msg"]


def test_pull_bad_range_for_known_client_is_400(sn, origin):
    data = register(sn, origin, path="/small", cid="c-range", md5="")["data"]
    r = sn.get("/peer/task", params={"taskId": data["taskId"], "srcCid": "c-range", "status": 701,
                                     "range": "9-2", "result": 501})
    assert r.status_code == 400 and "range" in r.json()["message"]


def test_reports_and_stubs(sn, origin):
    data = register(sn, origin, path="/small", cid="c-rep")["data"]
    tid_ = data["taskId"]
    r = sn.get("/peer/piece/error", params={"taskId": tid_, "range": "0-4194303", "srcCid": "c-rep",
                                            "dstCid": "cdnnode:x~" + tid_, "errorType": "FILE_MD5_NOT_MATCH",
                                            "expectedMd5": "abc", "realMd5": "def"})
    assert r.status_code == 200 and r.content == b""
    sn.services.piece_errors.join()
    assert sn.get("/peer/piece/error", params={"taskId": "zz", "range": "0-1"}).status_code == 400
    assert sn.get("/peer/piece/suc", params={"taskId": tid_, "cid": "c-rep", "pieceRange": "bad"}).status_code == 400
    r = sn.get("/peer/piece/suc", params={"taskId": tid_, "cid": "unknown", "pieceRange": "0-4194303"})
    assert r.status_code == 404 and r.json()["code"] == 502
    assert sn.get("/peer/service/down", params={"taskId": tid_}).status_code == 400
    r = sn.post("/task/metrics", json={"IP": "10.0.0.9", "port": 1, "taskId": tid_, "cID": "c-rep",
                                       "callSystem": "ci", "duration": 1.5, "success": True, "fileLength": 15})
    assert r.status_code == 200 and r.json() is None
    r = sn.post("/task/metrics", json={"IP": "10.0.0.9", "success": False, "backsourceReason": 3})
    assert r.status_code == 200
    assert sn.post("/task/metrics", json={"duration": "slow"}).status_code == 400
    assert 'dragonfly_dfget_download_failed_total{callsystem="",peer="10.0.0.9",reason="3"} 1.0' \
        in sn.get("/metrics").text
    for path in ("/peer/network", "/peer/heartbeat", "/api/v1/peer/network", "/v1.2/peer/heartbeat"):
        r = sn.post(path, json={})
        assert r.status_code == 200 and r.json() == {}


def _reported(sn) -> float:
    for line in sn.get("/metrics").text.splitlines():
        if line.startswith('dragonfly_supernode_pieces_reported_total{source="supernode"}'):
            return float(line.split()[-1])
    return 0.0


def test_a_501_in_a_pull_call_makes_the_client_a_source_without_piece_suc(sn, origin):
    origin.files["/report-in-pull"] = b"reported in the pull call"
    a, b = "10.0.0.21-1-1.000", "10.0.0.22-1-1.000"
    data = register(sn, origin, path="/report-in-pull", cid=a, ip="10.0.0.21", port=15021)["data"]
    assert data["reportInPull"] is True
    task_id = data["taskId"]
    body = pull(sn, task_id, a, status=700)
    deadline = time.monotonic() + 30
    while body["code"] == 602:
        assert time.monotonic() < deadline, body
        time.sleep(0.05)
        body = pull(sn, task_id, a, status=700)
    assert body["code"] == 601, body
    info = body["data"][0]
    before = _reported(sn)
    assert pull(sn, task_id, a, status=701, range=info["range"], result=501, dstCid=info["cid"])["code"] == 600
    assert _reported(sn) == before + 1
    # the same piece reported again by /peer/piece/suc is not counted twice
    assert sn.get("/peer/piece/suc", params={"taskId": task_id, "cid": a, "dstCid": info["cid"],
                                             "pieceRange": info["range"]}).json()["code"] == 611
    assert _reported(sn) == before + 1
    # a second client is sent to the first one for that piece: the 501 made it a source
    register(sn, origin, path="/report-in-pull", cid=b, ip="10.0.0.22", port=15022)
    body = pull(sn, task_id, b, status=700)
    assert body["code"] == 601, body
    assert [(p["cid"], p["peerIp"], p["peerPort"]) for p in body["data"]] == [(a, "10.0.0.21", 15021)]


def test_pieces_between_peers_are_counted_by_the_versions_of_both(sn, origin):
    origin.files["/by-version"] = b"pieces between two kinds of clients"
    a, b = "10.0.0.31-1-1.000", "10.0.0.32-1-1.000"
    task_id = register(sn, origin, path="/by-version", cid=a, ip="10.0.0.31", port=15031, version="1.0.6")["data"]["taskId"]
    register(sn, origin, path="/by-version", cid=b, ip="10.0.0.32", port=15032, version="1.0.6-py")
    size = len(origin.files["/by-version"])
    r = sn.get("/peer/piece/suc", params={"taskId": task_id, "cid": b, "dstCid": a, "pieceRange": f"0-{size - 1}"})
    assert r.json()["code"] == 611
    text = sn.get("/metrics").text
    assert 'dragonfly_supernode_peer_pieces_total{from_version="1.0.6",to_version="1.0.6-py"} 1.0' in text


def test_version_labels_are_capped():
    from supernode.metrics import MAX_VERSION_LABELS, SupernodeMetrics
    m = SupernodeMetrics()
    names = [m.version_label(f"v{i}") for i in range(MAX_VERSION_LABELS + 3)]
    assert names[:MAX_VERSION_LABELS] == [f"v{i}" for i in range(MAX_VERSION_LABELS)]
    assert names[MAX_VERSION_LABELS:] == ["other"] * 3
    assert m.version_label("v0") == "v0" and m.version_label("") == "unknown"
