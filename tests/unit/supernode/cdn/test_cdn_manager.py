"""CdnManager against a real local origin: layout, md5s, single flight, cache hits, resume, failures."""
from __future__ import annotations

import hashlib
import os
import threading

import pytest

from dfcommon import pieces
from dfcommon.errors import DfError
from dfcommon.task_id import task_id as make_task_id
from supernode.cdn import CdnManager, SourceRequest, data_key, md5_key, meta_key
from supernode.cdn import types as T
from supernode.cdn.metadata import FileMeta, decode_md5_file

from .conftest import MiB, RecordingListener

PS = MiB


def payload(n: int, seed: int = 1) -> bytes:
    return (hashlib.sha256(str(seed).encode()).digest() * (n // 32 + 1))[:n]


def request_for(origin, path, **kw) -> SourceRequest:
    url = origin.url(path)
    return SourceRequest(task_id=make_task_id(url, kw.get("md5", "") or kw.get("identifier", "")), raw_url=url,
                         task_url=url, **kw)


def expected_pieces(data: bytes, ps: int = PS) -> list[bytes]:
    cs = ps - 5
    chunks = [data[i:i + cs] for i in range(0, len(data), cs)] or [b""]
    return [pieces.wrap(c, ps) for c in chunks]


def run(mgr, req, ps=PS, length=None):
    listener = RecordingListener()
    mgr.set_listener(listener)
    info = mgr.probe(req)
    mgr.trigger(req, ps, info.length if length is None else length)
    return listener.wait()


def sample(metrics, name):
    return metrics.registry.get_sample_value(name) or 0


def test_download_layout_md5s_meta_and_metrics(origin, storage, make_config, metrics):
    data = payload(3 * MiB + 12345)
    origin.add("/blob", data)
    req = request_for(origin, "/blob")
    mgr = CdnManager(make_config(), storage, metrics)
    info = mgr.probe(req)
    assert (info.length, info.supports_range) == (len(data), True)
    listener = RecordingListener()
    mgr.set_listener(listener)
    mgr.trigger(req, PS, info.length)
    listener.wait()
    assert listener.failure is None
    wrapped = expected_pieces(data)
    assert listener.pieces == {n: pieces.piece_md5(w) for n, w in enumerate(wrapped)}
    wlen = pieces.wrapped_length(len(data), PS)
    assert listener.success == (req.task_id, wlen, hashlib.md5(data).hexdigest(), len(data))
    stored = storage.read_bytes(data_key(req.task_id))
    assert len(stored) == wlen
    for n, w in enumerate(wrapped):
        assert stored[n * PS:n * PS + len(w)] == w
    meta = FileMeta.from_json(storage.read_bytes(meta_key(req.task_id)))
    assert (meta.finish, meta.success, meta.fileLength, meta.httpFileLen) == (True, True, wlen, len(data))
    assert meta.realMd5 == hashlib.md5(data).hexdigest() and meta.pieceSize == PS and meta.url == req.task_url
    assert meta.eTag and meta.lastModified > 0
    md5s, file_md5 = decode_md5_file(storage.read_bytes(md5_key(req.task_id)))
    assert md5s == [listener.pieces[n] for n in range(len(wrapped))] and file_md5 == meta.realMd5
    assert mgr.status(req.task_id) == T.SUCCESS
    assert mgr.piece_md5(req.task_id, 1) == listener.pieces[1]
    assert mgr.piece_path(req.task_id) == f"/download/{req.task_id[:3]}/{req.task_id}"
    assert sample(metrics, "dragonfly_supernode_cdn_trigger_total") == 1
    assert sample(metrics, "dragonfly_supernode_cdn_download_total") == 1
    assert sample(metrics, "dragonfly_supernode_cdn_download_size_bytes_total") == len(data)


def test_single_flight_for_20_concurrent_triggers(origin, storage, make_config, metrics):
    data = payload(2 * MiB + 77)
    f = origin.add("/one", data, hold_after=1000)
    req = request_for(origin, "/one")
    mgr = CdnManager(make_config(), storage, metrics)
    listener = RecordingListener()
    mgr.set_listener(listener)
    info = mgr.probe(req)
    before = origin.download_bytes
    barrier = threading.Barrier(20)

    def go():
        barrier.wait()
        mgr.trigger(req, PS, info.length)

    threads = [threading.Thread(target=go) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert mgr.status(req.task_id) == T.RUNNING
    f.gate.set()
    listener.wait()
    mgr.trigger(req, PS, info.length)            # done: a later trigger does nothing either
    assert listener.success is not None
    assert origin.download_bytes - before == len(data)
    assert len([h for h in origin.served("/one") if "range" not in h]) == 1
    assert sample(metrics, "dragonfly_supernode_cdn_trigger_total") == 1


def test_piece_zero_servable_while_the_rest_downloads(origin, storage, make_config):
    data = payload(3 * MiB)
    f = origin.add("/slow", data, hold_after=PS + 10)
    req = request_for(origin, "/slow")
    mgr = CdnManager(make_config(), storage)
    listener = RecordingListener()
    mgr.set_listener(listener)
    mgr.trigger(req, PS, len(data))
    assert listener.piece_event(0).wait(30)
    assert mgr.status(req.task_id) == T.RUNNING and not listener.done.is_set()
    first = storage.read_bytes(data_key(req.task_id), 0, PS)
    assert pieces.unwrap(first) == data[:PS - 5]
    f.gate.set()
    listener.wait()
    assert listener.success[2] == hashlib.md5(data).hexdigest()


def test_full_cache_hit_after_304_sends_no_body(origin, storage, make_config, metrics):
    data = payload(2 * MiB + 5)
    origin.add("/hit", data)
    req = request_for(origin, "/hit")
    first = run(CdnManager(make_config(), storage), req)
    mgr = CdnManager(make_config(), storage, metrics)       # a restarted supernode over the same store
    listener = RecordingListener()
    mgr.set_listener(listener)
    mgr.probe(req)
    before, nreq = origin.download_bytes, len(origin.requests)
    mgr.trigger(req, PS, len(data))
    listener.wait()
    assert origin.download_bytes == before                       # the 304 carried no body, nothing re-downloaded
    conditional = [h for _, _, h in origin.requests[nreq:]]
    assert conditional and all("if-none-match" in h for h in conditional)
    assert listener.pieces == first.pieces and listener.success == first.success
    assert sample(metrics, "dragonfly_supernode_cdn_cache_hit_total") == 1
    assert sample(metrics, "dragonfly_supernode_cdn_download_total") == 0
    # forgetting the task (non-full) keeps the files: the next trigger is a hit again
    mgr.delete(req.task_id, full=False)
    assert storage.exists(data_key(req.task_id))
    again = run(mgr, req)
    assert again.success == first.success and origin.download_bytes == before


def test_full_hit_rebuilds_a_rejected_md5_file(origin, storage, make_config):
    data = payload(MiB + 3)
    origin.add("/md5", data)
    req = request_for(origin, "/md5")
    first = run(CdnManager(make_config(), storage), req)
    raw = storage.read_bytes(md5_key(req.task_id))
    storage.put_atomic(md5_key(req.task_id), raw[:-1] + (b"0" if raw[-1:] != b"0" else b"1"))   # bad sha1
    before = origin.download_bytes
    second = run(CdnManager(make_config(), storage), req)
    assert second.pieces == first.pieces and second.success == first.success
    assert origin.download_bytes == before
    assert decode_md5_file(storage.read_bytes(md5_key(req.task_id)))[0] == [first.pieces[0], first.pieces[1]]


def test_changed_source_is_downloaded_again(origin, storage, make_config):
    origin.add("/chg", payload(MiB, seed=1))
    req = request_for(origin, "/chg")
    run(CdnManager(make_config(), storage), req)
    new = payload(MiB + 100, seed=2)
    origin.add("/chg", new)
    f = origin.files["/chg"]
    f.last_modified += 100
    second = run(CdnManager(make_config(), storage), req)
    assert second.success[2] == hashlib.md5(new).hexdigest()
    assert storage.read_bytes(data_key(req.task_id)) == b"".join(
        w + (b"\0" * (PS - len(w)) if i < len(expected_pieces(new)) - 1 else b"")
        for i, w in enumerate(expected_pieces(new)))


def test_copy_without_validators_is_always_refetched(origin, storage, make_config):
    data = payload(300_000)
    origin.add("/nov", data, etag=False, last_modified=False)
    req = request_for(origin, "/nov")
    run(CdnManager(make_config(), storage), req)
    before = origin.download_bytes
    run(CdnManager(make_config(), storage), req)
    assert origin.download_bytes - before == len(data)


def test_resume_after_interrupted_download(origin, storage, make_config):
    data = payload(4 * MiB + 999)
    cut = 2 * PS + 1000
    origin.add("/resume", data, cut_after=cut)
    req = request_for(origin, "/resume")
    mgr = CdnManager(make_config(), storage)
    failed = run(mgr, req)
    assert failed.failure is not None and failed.failure[2] is False
    assert mgr.status(req.task_id) == T.FAILED
    meta = FileMeta.from_json(storage.read_bytes(meta_key(req.task_id)))
    assert meta.finish is False
    nreq = len(origin.requests)
    ok = run(mgr, req)
    assert ok.failure is None and ok.success[2] == hashlib.md5(data).hexdigest()
    ranged = [h["range"] for _, p, h in origin.requests[nreq:] if p == "/resume" and "range" in h
              and h["range"] != "bytes=0-0"]
    cs = PS - 5
    assert ranged == [f"bytes={2 * cs}-{len(data) - 1}"]
    assert ok.pieces == {n: pieces.piece_md5(w) for n, w in enumerate(expected_pieces(data))}
    assert md5_of_content(storage, req.task_id, len(data)) == hashlib.md5(data).hexdigest()


def md5_of_content(storage, task_id, length):
    h = hashlib.md5()
    for n in range(pieces.piece_total(length, PS)):
        _, size = pieces.source_span(n, PS, length)
        h.update(pieces.unwrap(storage.read_bytes(data_key(task_id), n * PS, size + 5)))
    return h.hexdigest()


def test_md5_mismatch_fails(origin, storage, make_config, metrics):
    data = payload(100_000)
    origin.add("/bad", data)
    req = request_for(origin, "/bad", md5="0" * 32)
    res = run(CdnManager(make_config(), storage, metrics), req)
    assert res.success is None and "md5" in res.failure[1] and res.failure[2] is False
    meta = FileMeta.from_json(storage.read_bytes(meta_key(req.task_id)))
    assert (meta.finish, meta.success) == (True, False)
    assert sample(metrics, "dragonfly_supernode_cdn_download_failed_total") == 1
    assert sample(metrics, "dragonfly_supernode_cdn_trigger_failed_total") == 1


def test_user_md5_match_succeeds(origin, storage, make_config):
    data = payload(10_000)
    origin.add("/good", data)
    req = request_for(origin, "/good", md5=hashlib.md5(data).hexdigest())
    assert run(CdnManager(make_config(), storage), req).success is not None


def test_length_mismatch_fails(origin, storage, make_config):
    origin.add("/short", payload(10_000))
    req = request_for(origin, "/short")
    res = run(CdnManager(make_config(), storage), req, length=20_000)
    assert "length" in res.failure[1]


def test_unreachable_source_is_remembered(origin, storage, make_config):
    req = request_for(origin, "/missing")
    mgr = CdnManager(make_config(), storage)
    with pytest.raises(DfError) as e:
        mgr.probe(req)
    assert e.value.code == "URL_NOT_REACHABLE"
    origin.add("/missing", b"now here")
    n = len(origin.requests)
    with pytest.raises(DfError) as e:
        mgr.probe(req)
    assert e.value.code == "URL_NOT_REACHABLE" and len(origin.requests) == n
    fresh = CdnManager(make_config(fail_access_interval="0s"), storage)
    origin.files["/missing"].status = 404
    with pytest.raises(DfError):
        fresh.probe(req)
    origin.files["/missing"].status = 200
    assert fresh.probe(req).length == 8           # the interval is over: the source is asked again


def test_probe_auth_error_other_status_and_connection_error(origin, storage, make_config):
    mgr = CdnManager(make_config(), storage)
    origin.add("/auth", b"x", status=401)
    origin.add("/proxy", b"x", status=407)
    origin.add("/boom", b"x", status=500)
    for path in ("/auth", "/proxy"):
        with pytest.raises(DfError) as e:
            mgr.probe(request_for(origin, path))
        assert e.value.code == "SOURCE_AUTH"
    info = mgr.probe(request_for(origin, "/boom"))
    assert (info.status, info.length, info.supports_range) == (500, -1, False)
    from tests.helpers import free_port
    dead = f"http://127.0.0.1:{free_port()}/x"
    with pytest.raises(DfError) as e:
        mgr.probe(SourceRequest(make_task_id(dead), dead, dead))
    assert e.value.code == "SOURCE_ERROR"


def test_probe_without_range_support(origin, storage, make_config):
    origin.add("/norange", payload(5000), ranges=False)
    info = CdnManager(make_config(), storage).probe(request_for(origin, "/norange"))
    assert (info.status, info.length, info.supports_range) == (200, 5000, False)


def test_user_headers_reach_the_source(origin, storage, make_config):
    origin.add("/h", b"abc")
    req = request_for(origin, "/h", headers=[("X-Token", "a"), ("Accept", "one"), ("accept", "two")])
    run(CdnManager(make_config(), storage), req)
    hs = origin.served("/h")
    assert all(h["x-token"] == "a" and h["accept"] == "one, two" for h in hs)


def test_bad_status_at_download_is_a_source_error(origin, storage, make_config):
    origin.add("/gone", payload(1000))
    req = request_for(origin, "/gone")
    mgr = CdnManager(make_config(), storage)
    listener = RecordingListener()
    mgr.set_listener(listener)
    info = mgr.probe(req)
    origin.files["/gone"].status = 503
    mgr.trigger(req, PS, info.length)
    listener.wait()
    assert listener.failure[2] is True and mgr.status(req.task_id) == T.SOURCE_ERROR
    origin.files["/gone"].status = 200                # a failed task is triggered again
    assert run(mgr, req).success is not None


def test_empty_file_gets_one_five_byte_piece(origin, storage, make_config):
    origin.add("/empty", b"")
    req = request_for(origin, "/empty")
    res = run(CdnManager(make_config(), storage), req)
    empty = pieces.wrap(b"", PS)
    assert res.pieces == {0: pieces.piece_md5(empty)}
    assert res.success == (req.task_id, 5, hashlib.md5(b"").hexdigest(), 0)
    assert storage.read_bytes(data_key(req.task_id)) == empty


def test_source_pattern_reports_all_pieces_without_downloading(origin, storage, make_config):
    data = payload(2 * MiB + 1)
    origin.add("/src", data)
    req = request_for(origin, "/src")
    mgr = CdnManager(make_config(cdn_pattern="source"), storage)
    before = origin.download_bytes
    res = run(mgr, req)
    assert res.pieces == {0: "", 1: "", 2: ""}
    assert res.success == (req.task_id, len(data), "", len(data))
    assert origin.download_bytes == before
    assert mgr.piece_path(req.task_id, req.raw_url) == req.raw_url
    assert mgr.piece_path(req.task_id) == req.raw_url
    assert not storage.exists(data_key(req.task_id))
    origin.add("/src-norange", data, ranges=False)
    bad = run(mgr, request_for(origin, "/src-norange"))
    assert bad.failure is not None and mgr.status(bad.failure[0]) == T.FAILED


def test_check_piece_and_full_gc_of_a_corrupt_task(origin, storage, make_config):
    data = payload(2 * MiB)
    origin.add("/chk", data)
    req = request_for(origin, "/chk")
    mgr = CdnManager(make_config(), storage)
    res = run(mgr, req)
    assert mgr.check_piece(req.task_id, 1, res.pieces[1])
    w = storage.open_writer(data_key(req.task_id))
    w.write_at(PS + 100, b"corrupt!")
    w.close()
    assert not mgr.check_piece(req.task_id, 1, res.pieces[1])
    assert not storage.exists(data_key(req.task_id)) and not storage.exists(meta_key(req.task_id))
    assert mgr.status(req.task_id) == T.WAITING


def test_delete_full_removes_files(origin, storage, make_config):
    origin.add("/del", payload(1000))
    req = request_for(origin, "/del")
    mgr = CdnManager(make_config(), storage)
    run(mgr, req)
    mgr.delete(req.task_id, full=True)
    assert storage.list(f"download/{req.task_id[:3]}/") == []
    assert mgr.status(req.task_id) == T.WAITING and mgr.piece_md5(req.task_id, 0) is None


def test_root_cas_bundle_is_temporary():
    from supernode.cdn.source import tls_verify
    req = SourceRequest("a" * 64, "https://x/", "https://x/", root_cas=[b"-----BEGIN CERTIFICATE-----\nAA"])
    with tls_verify(req) as path:
        assert os.path.exists(path) and open(path, "rb").read().endswith(b"AA\n")
    assert not os.path.exists(path)
    with tls_verify(SourceRequest("a" * 64, "u", "u", insecure=True)) as v:
        assert v is False
