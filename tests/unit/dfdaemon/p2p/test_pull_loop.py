"""The pull loop against a scripted supernode (see scripted_supernode.py for why it is a fake)
and a real HTTP server holding the wrapped pieces."""
import hashlib
import os

import pytest

from dfcommon import pieces
from dfdaemon.p2p import pull_loop
from dfdaemon.p2p.downloader import Downloader, DownloaderOptions
from dfdaemon.p2p.result import BackSourceReason, ErrorCode

from .blob_server import BlobServer
from .scripted_supernode import ScriptedSupernode, ok_register
from tests.helpers import free_port

PS = 1 << 20


@pytest.fixture
def cdn():
    data = os.urandom(2 * (PS - 5) + 777)
    cs = PS - 5
    wrapped = b"".join(pieces.wrap(data[i:i + cs], PS) for i in range(0, len(data), cs))
    srv = BlobServer({"/download/t/task": wrapped})
    yield srv, data, wrapped
    srv.stop()


def piece(n, wrapped, port, md5=None):
    return {"range": pieces.range_string(n, PS), "pieceNum": n, "pieceSize": PS,
            "pieceMd5": md5 or pieces.piece_md5(wrapped[n * PS:(n + 1) * PS]), "cid": f"peer-{n}",
            "peerIp": "127.0.0.1", "peerPort": port, "path": "/download/t/task", "downLink": 0}


def finish(data):
    return 200, {"code": 600, "msg": "finish", "data": {"md5": hashlib.md5(data).hexdigest(), "fileLength": 0}}


def cont(*items):
    return 200, {"code": 601, "msg": "continue", "data": list(items)}


def run(tmp_path, nodes, **kw):
    lines = []
    dl = Downloader(DownloaderOptions(work_home=str(tmp_path / "home"), nodes=nodes, local_limit=0))
    res = dl.download("http://origin.invalid/f", str(tmp_path / "out" / "f"), pattern="cdn", console=lines.append,
                      **kw)
    return res, lines


def scripted(task_replies, length, report_in_pull=False, registry=None):
    """A supernode that registers (``registry``: its replies, by default one success, repeated) and answers
    ``/peer/task`` with ``task_replies`` in turn."""
    ok = ok_register(length=length, piece_size=PS, report_in_pull=report_in_pull)
    return ScriptedSupernode({"/peer/registry": [ok if r == "ok" else r for r in (registry or ["ok"])],
                              "/peer/task": task_replies, "/peer/piece/suc": [(200, {"code": 611})],
                              "/peer/piece/error": [(200, {})], "/task/metrics": [(200, None)]})


def test_wait_continue_finish(tmp_path, cdn):
    srv, data, wrapped = cdn
    sn = scripted([(200, {"code": 602, "msg": "wait"}),
                   cont(piece(0, wrapped, srv.port), piece(1, wrapped, srv.port)),
                   cont(piece(2, wrapped, srv.port)), cont(), finish(data)], len(data))
    try:
        res, lines = run(tmp_path, [sn.node])
    finally:
        sn.stop()
    assert res.success, res.message
    assert (tmp_path / "out" / "f").read_bytes() == data
    assert res.reason == 0 and not res.back_source and res.length == len(data)
    assert f"client:{res.node and '127.0.0.1'} connected to node:{sn.node}" in lines
    tasks = [q for p, q, _ in sn.calls if p == "/peer/task"]
    assert tasks[0]["status"] == "700" and tasks[0]["result"] == "502"
    reported = {q["range"]: q for q in tasks if q.get("result") == "503"}
    assert set(reported) == {pieces.range_string(n, PS) for n in range(3)}
    assert reported[pieces.range_string(1, PS)]["dstCid"] == "peer-1"
    sucs = [q for p, q, _ in sn.calls if p == "/peer/piece/suc"]
    assert len(sucs) == 3 and all(q["dstCid"].startswith("peer-") for q in sucs)
    metrics = [b for p, _, b in sn.calls if p == "/task/metrics"]
    assert metrics and metrics[0]["success"] is True and metrics[0]["backsourceReason"] == "0"
    # the data file stays for nobody (pattern cdn): it was moved to the output
    assert not os.listdir(tmp_path / "home" / "data")


def test_bad_piece_reports_error_and_fail_then_refetches(tmp_path, cdn):
    srv, data, wrapped = cdn
    bad = piece(0, wrapped, srv.port, md5="f" * 32 + f":{PS}")
    sn = scripted([cont(bad), cont(*[piece(n, wrapped, srv.port) for n in range(3)]), cont(), cont(), cont(),
                   finish(data)], len(data))
    try:
        res, _ = run(tmp_path, [sn.node])
    finally:
        sn.stop()
    assert res.success, res.message
    assert (tmp_path / "out" / "f").read_bytes() == data
    errors = [q for p, q, _ in sn.calls if p == "/peer/piece/error"]
    assert errors and errors[0]["errorType"] == "FILE_MD5_NOT_MATCH" and errors[0]["expectedMd5"] == "f" * 32
    fails = [q for p, q, _ in sn.calls if p == "/peer/task" and q.get("result") == "500"]
    assert fails and fails[0]["range"] == pieces.range_string(0, PS)


def _first_then_second(tmp_path, first, second, seed):
    """Download into ``tmp_path/f`` with ``first`` weighted far above ``second`` in the node list (dfget picks
    its node at random by weight): ``first`` is asked first, ``second`` is where a migration goes."""
    import random
    dl = Downloader(DownloaderOptions(work_home=str(tmp_path / "home"), nodes=[first.node + "=1000",
                                                                                second.node + "=1"],
                                      local_limit=0), rng=random.Random(seed))
    lines = []
    res = dl.download("http://origin.invalid/f", str(tmp_path / "f"), pattern="cdn", console=lines.append)
    return res, lines


def test_migrates_when_a_node_fails(tmp_path, cdn):
    srv, data, wrapped = cdn
    broken = ScriptedSupernode({"/peer/registry": [ok_register(length=len(data), piece_size=PS)],
                                "/peer/task": [(500, {"code": 500, "message": "boom"})],
                                "/task/metrics": [(200, None)]})
    good = scripted([cont(*[piece(n, wrapped, srv.port) for n in range(3)]), cont(), cont(), finish(data)],
                    len(data))
    try:
        res, lines = _first_then_second(tmp_path, broken, good, seed=3)
    finally:
        broken.stop()
        good.stop()
    assert res.success, res.message
    assert f"migrated to node:{good.node}" in lines and res.node == good.node
    assert (tmp_path / "f").read_bytes() == data


def test_a_migration_that_finds_no_supernode_walks_the_list_again(tmp_path, cdn, monkeypatch):
    """A lone member that restarts: the migration's first walk has no other node, the member's next answer
    is a 500 while it comes up, the walk after that registers again, and the download finishes."""
    monkeypatch.setattr(pull_loop, "MIGRATION_PAUSES", (0.01, 0.02, 0.04))
    srv, data, wrapped = cdn
    sn = scripted([(500, {"code": 500, "message": "stopping"}),
                   cont(*[piece(n, wrapped, srv.port) for n in range(3)]), cont(), cont(), finish(data)],
                  len(data), registry=["ok", (500, {"code": 500, "message": "starting"}), "ok"])
    try:
        res, lines = run(tmp_path, [sn.node])
    finally:
        sn.stop()
    assert res.success, res.message
    assert (tmp_path / "out" / "f").read_bytes() == data
    assert sn.paths().count("/peer/registry") == 3
    assert f"migrated to node:{sn.node}" in lines


def test_a_migration_gives_up_after_its_walks(tmp_path, cdn, monkeypatch):
    monkeypatch.setattr(pull_loop, "MIGRATION_PAUSES", (0.01, 0.01))
    srv, data, _ = cdn
    sn = scripted([(500, {"code": 500, "message": "stopping"})], len(data),
                  registry=["ok", (500, {"code": 500, "message": "gone"})])
    try:
        res, _ = run(tmp_path, [sn.node], notbs=True)
    finally:
        sn.stop()
    assert not res.success and "migration failed" in res.message
    assert sn.paths().count("/peer/registry") == 3          # the first registration, then one per walk again
    assert not (tmp_path / "out" / "f").exists()


def test_source_error_without_back_source_fails_cleanly(tmp_path, cdn):
    srv, data, _ = cdn
    sn = scripted([(200, {"code": 610, "msg": "source 404"})], len(data))
    try:
        res, _ = run(tmp_path, [sn.node], notbs=True)
    finally:
        sn.stop()
    assert not res.success and res.code == ErrorCode.DOWNLOAD
    assert res.reason == BackSourceReason.SOURCE_ERROR + 1000
    assert not (tmp_path / "out" / "f").exists()
    assert not os.listdir(tmp_path / "out") and not os.listdir(tmp_path / "home" / "data")


def test_whole_file_md5_mismatch_fails(tmp_path, cdn):
    srv, data, wrapped = cdn
    sn = scripted([cont(*[piece(n, wrapped, srv.port) for n in range(3)]), cont(), cont(), finish(data)],
                  len(data))
    try:
        res, _ = run(tmp_path, [sn.node], notbs=True, md5="0" * 32)
    finally:
        sn.stop()
    assert not res.success and res.reason == BackSourceReason.MD5_NOT_MATCH + 1000
    assert not os.listdir(tmp_path / "out")


def test_after_a_held_602_the_next_call_reports_the_result_that_came_in_meanwhile(tmp_path, cdn):
    srv, data, wrapped = cdn
    dead = piece(1, wrapped, free_port())                 # nothing listens there: this fetch fails at once
    held = (200, {"code": 602, "msg": "wait"}, 0.6)       # the supernode holds this call (pull_hold)
    sn = scripted([cont(piece(0, wrapped, srv.port), dead), held, cont(piece(1, wrapped, srv.port)),
                   cont(piece(2, wrapped, srv.port)), cont(), cont(), finish(data)], len(data))
    try:
        res, _ = run(tmp_path, [sn.node])
    finally:
        sn.stop()
    assert res.success, res.message
    tasks = [q for p, q, _ in sn.calls if p == "/peer/task"]
    first, after_hold = tasks[1], tasks[2]                # the call that was held, and the one after it
    assert {first["range"], after_hold["range"]} == {pieces.range_string(0, PS), pieces.range_string(1, PS)}
    assert {first["result"], after_hold["result"]} == {"503", "500"}      # each result once, none sent twice


def test_with_report_in_pull_the_pull_call_reports_501_and_no_piece_suc_is_sent(tmp_path, cdn, monkeypatch):
    monkeypatch.setattr(pull_loop, "REPORT_GRACE", 2.0)     # a slow machine must not turn this into a race
    srv, data, wrapped = cdn
    sn = scripted([cont(piece(0, wrapped, srv.port)), cont(piece(1, wrapped, srv.port)),
                   cont(piece(2, wrapped, srv.port)), cont(), finish(data)], len(data), report_in_pull=True)
    try:
        res, _ = run(tmp_path, [sn.node])
    finally:
        sn.stop()
    assert res.success, res.message
    assert (tmp_path / "out" / "f").read_bytes() == data
    reports = {q["range"]: q["result"] for p, q, _ in sn.calls if p == "/peer/task" and q.get("range")}
    assert reports == {pieces.range_string(n, PS): "501" for n in range(3)}
    assert "/peer/piece/suc" not in sn.paths()


def test_with_report_in_pull_a_piece_written_during_a_held_call_is_reported_at_once_by_piece_suc(tmp_path, cdn):
    srv, data, wrapped = cdn
    held = (200, {"code": 602, "msg": "wait"}, 0.6)
    sn = scripted([cont(piece(0, wrapped, srv.port), piece(1, wrapped, srv.port)), held,
                   cont(piece(2, wrapped, srv.port)), cont(), cont(), finish(data)], len(data), report_in_pull=True)
    try:
        res, _ = run(tmp_path, [sn.node])
    finally:
        sn.stop()
    assert res.success, res.message
    tasks = [q for p, q, _ in sn.calls if p == "/peer/task"]
    held_call, after_hold = tasks[1], tasks[2]
    sucs = [q for p, q, _ in sn.calls if p == "/peer/piece/suc"]
    # the piece that landed while the call was held did not wait for it: piece/suc reported it meanwhile
    assert [q["pieceRange"] for q in sucs][:1] == [after_hold["range"]]
    assert sn.calls.index(("/peer/piece/suc", sucs[0], None)) < sn.calls.index(("/peer/task", after_hold, None))
    assert held_call["result"] == after_hold["result"] == "501"


def test_a_migration_drops_the_reports_still_retried_against_the_old_node(tmp_path, cdn):
    """Node A hands out three pieces, then fails: the /peer/piece/suc reports A refuses are not retried once
    the loop migrates (three tries each against a dead member held the migration up for a second), and node B,
    which offers the pieces again, gets them reported."""
    srv, data, wrapped = cdn
    three = [piece(n, wrapped, srv.port) for n in range(3)]
    dead = ScriptedSupernode({"/peer/registry": [ok_register(length=len(data), piece_size=PS)],
                              "/peer/task": [cont(*three), (500, {"code": 500, "message": "gone"})],
                              "/peer/piece/suc": [(500, {"code": 500, "message": "gone"})],
                              "/task/metrics": [(200, None)]})
    good = scripted([cont(*three), finish(data)], len(data))
    try:
        res, lines = _first_then_second(tmp_path, dead, good, seed=5)
    finally:
        dead.stop()
        good.stop()
    assert res.success, res.message
    assert f"migrated to node:{good.node}" in lines
    assert (tmp_path / "f").read_bytes() == data
    to_dead = [q["pieceRange"] for p, q, _ in dead.calls if p == "/peer/piece/suc"]
    assert len(to_dead) < 9                               # not every report tried three times
    failed_pull = next(i for i, (p, q, _) in enumerate(dead.calls) if p == "/peer/task" and i > 1)
    late = [c for c in dead.calls[failed_pull + 1:] if c[0] == "/peer/piece/suc"]
    assert len(late) <= 3                                 # at most the tries already under way
    reported = {q["pieceRange"] for p, q, _ in good.calls if p == "/peer/piece/suc"} | \
        {q.get("range") for p, q, _ in good.calls if p == "/peer/task" and q.get("result") in ("501", "503")}
    assert {pieces.range_string(n, PS) for n in range(3)} <= reported
