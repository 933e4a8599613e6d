"""Back-to-source over several connections (supernode/cdn/segmented.py) against a real local origin."""
from __future__ import annotations

import hashlib
import time
import re

from dfcommon import pieces
from supernode.cdn import CdnManager, data_key, md5_key, meta_key
from supernode.cdn.metadata import FileMeta, MetaStore, decode_md5_file
from supernode.cdn.segmented import plan_chunks

from .conftest import MiB, RecordingListener
from .test_cdn_manager import PS, expected_pieces, payload, request_for, run, sample


def ranges_served(origin, path) -> list[tuple[int, int]]:
    out = []
    for h in origin.served(path):
        m = re.match(r"bytes=(\d+)-(\d+)$", h.get("range", ""))
        if m and h.get("range") != "bytes=0-0":
            out.append((int(m.group(1)), int(m.group(2))))
    return sorted(out)


def test_plan_chunks_covers_every_piece_once():
    assert plan_chunks(10 * (PS - 5), PS, 0, 4) == [(0, 4), (4, 8), (8, 10)]
    assert plan_chunks(10 * (PS - 5) + 1, PS, 3, 4) == [(3, 7), (7, 11)]
    assert plan_chunks(5, PS, 0, 0) == [(0, 1)]


def test_several_streams_store_the_same_pieces_and_read_each_byte_once(origin, storage, make_config, metrics):
    data = payload(6 * MiB + 12345, seed=7)
    origin.add("/big", data)
    req = request_for(origin, "/big")
    mgr = CdnManager(make_config(source_streams=3, source_chunk="2MB"), storage, metrics)
    listener = run(mgr, req)
    assert listener.failure is None
    wrapped = expected_pieces(data)
    assert listener.pieces == {n: pieces.piece_md5(w) for n, w in enumerate(wrapped)}
    assert listener.success == (req.task_id, pieces.wrapped_length(len(data), PS), hashlib.md5(data).hexdigest(),
                                len(data))
    stored = storage.read_bytes(data_key(req.task_id))
    assert stored == b"".join(w + b"\0" * (PS - len(w)) for w in wrapped)[:len(stored)]
    assert len(stored) == pieces.wrapped_length(len(data), PS)
    # every byte came from the origin once, in Range requests of whole pieces that do not overlap
    assert origin.download_bytes == len(data)
    spans = ranges_served(origin, "/big")
    cs = PS - 5
    assert spans == [(a * cs, min(b * cs, len(data)) - 1) for a, b in plan_chunks(len(data), PS, 0, 2)]
    assert len(spans) == 4
    md5s, file_md5 = decode_md5_file(storage.read_bytes(md5_key(req.task_id)))
    assert md5s == [listener.pieces[n] for n in range(len(wrapped))] and file_md5 == hashlib.md5(data).hexdigest()
    meta = FileMeta.from_json(storage.read_bytes(meta_key(req.task_id)))
    assert meta.eTag == origin.files["/big"].etag and meta.lastModified > 0 and meta.success
    assert sample(metrics, "dragonfly_supernode_cdn_download_size_bytes_total") == len(data)


def test_a_file_smaller_than_two_chunks_takes_one_connection(origin, storage, make_config, metrics):
    data = payload(3 * MiB, seed=8)
    origin.add("/small", data)
    req = request_for(origin, "/small")
    listener = run(CdnManager(make_config(source_streams=4), storage, metrics), req)
    assert listener.success is not None and listener.success[2] == hashlib.md5(data).hexdigest()
    assert ranges_served(origin, "/small") == []          # one plain GET after the probe


def test_a_source_that_changes_during_the_download_fails_the_run(origin, storage, make_config, metrics):
    data = payload(6 * MiB, seed=9)
    f = origin.add("/moving", data, hold_after=1000)
    req = request_for(origin, "/moving")
    mgr = CdnManager(make_config(source_streams=2, source_chunk="1MB"), storage, metrics)
    listener = RecordingListener()
    mgr.set_listener(listener)
    info = mgr.probe(req)
    mgr.trigger(req, PS, info.length)
    while len(ranges_served(origin, "/moving")) < 2:      # the first two chunks are on their way
        listener.done.wait(0.01)
    f.etag = '"a-new-version"'
    f.gate.set()
    listener.wait()
    assert listener.success is None
    _, reason, source_error = listener.failure
    assert "changed during the download" in reason and source_error is False


def test_a_range_answered_in_full_fails_as_a_source_error(origin, storage, make_config, metrics):
    data = payload(6 * MiB, seed=10)
    f = origin.add("/norange", data)
    req = request_for(origin, "/norange")
    mgr = CdnManager(make_config(source_streams=2, source_chunk="1MB"), storage, metrics)
    listener = RecordingListener()
    mgr.set_listener(listener)
    info = mgr.probe(req)
    assert info.supports_range
    f.ranges = False                                     # from now on the origin answers 200 with the whole file
    mgr.trigger(req, PS, info.length)
    listener.wait()
    assert listener.success is None
    _, reason, source_error = listener.failure
    assert "range" in reason and source_error is True


def _in_flight_at_the_gate(origin, mgr, path, data) -> int:
    """Chunk requests the origin has seen while every body is held after its first bytes."""
    f = origin.add(path, data, hold_after=1000)
    req = request_for(origin, path)
    listener = RecordingListener()
    mgr.set_listener(listener)
    info = mgr.probe(req)
    mgr.trigger(req, PS, info.length)
    deadline = time.monotonic() + 10
    while not ranges_served(origin, path) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)                                      # time for more workers to ask, if they would
    seen = len(ranges_served(origin, path))
    f.gate.set()
    listener.wait()
    assert listener.success is not None and listener.success[2] == hashlib.md5(data).hexdigest()
    assert len(ranges_served(origin, path)) == 6
    return seen


def test_extra_connections_only_while_the_download_runs_alone(origin, storage, make_config, metrics):
    data = payload(6 * MiB - 100, seed=11)
    mgr = CdnManager(make_config(source_streams=3, source_chunk="1MB"), storage, metrics)
    assert _in_flight_at_the_gate(origin, mgr, "/alone", data) == 3
    with mgr.ctx.downloads:                              # another CDN download runs meanwhile
        assert _in_flight_at_the_gate(origin, mgr, "/crowded", data) == 1


def test_plan_chunks_skips_the_pieces_the_store_holds():
    ten = 10 * (PS - 5)
    assert plan_chunks(ten, PS, 0, 4, have={2, 3, 7}) == [(0, 2), (4, 7), (8, 10)]
    assert plan_chunks(ten, PS, 1, 4, have={0, 1, 2, 3, 4, 5, 6, 7, 8}) == [(9, 10)]
    assert plan_chunks(ten, PS, 0, 3, have=set(range(10))) == []


def _second_run_ranges(origin, path, before: int) -> list[tuple[int, int]]:
    out = []
    for _, p, h in origin.requests[before:]:
        m = re.match(r"bytes=(\d+)-(\d+)$", h.get("range", "")) if p == path else None
        if m and h["range"] != "bytes=0-0":
            out.append((int(m.group(1)), int(m.group(2))))
    return sorted(out)


def test_a_cut_off_chunked_download_keeps_its_validators_and_resumes_only_the_missing_pieces(
        origin, storage, make_config, metrics):
    """Two connections, one cut off mid-chunk: the meta names the origin's ETag and Last-Modified though the
    run failed (a member taking the fetch over needs them to resume), and the next run fetches exactly the
    pieces the first one did not write (and the last piece), wherever the gaps are."""
    data = payload(8 * MiB, seed=12)
    f = origin.add("/cut", data, cut_after=PS + 1000)
    req = request_for(origin, "/cut")
    mgr = CdnManager(make_config(source_streams=2, source_chunk="2MB"), storage, metrics)
    failed = run(mgr, req)
    assert failed.failure is not None and failed.failure[2] is False
    meta = FileMeta.from_json(storage.read_bytes(meta_key(req.task_id)))
    assert (meta.finish, meta.eTag) == (False, f.etag) and meta.lastModified > 0
    total = pieces.piece_total(len(data), PS)
    held = set(failed.pieces) - {total - 1}
    assert held and len(held) < total - 1
    before = len(origin.requests)
    ok = run(mgr, req)
    assert ok.failure is None and ok.success[2] == hashlib.md5(data).hexdigest()
    assert ok.pieces == {n: pieces.piece_md5(w) for n, w in enumerate(expected_pieces(data))}
    cs = PS - 5
    want = [(a * cs, min(b * cs, len(data)) - 1) for a, b in plan_chunks(len(data), PS, 0, 2, have=held)]
    assert _second_run_ranges(origin, "/cut", before) == want
    md5s, file_md5 = decode_md5_file(storage.read_bytes(md5_key(req.task_id)))
    assert md5s == [ok.pieces[n] for n in range(total)] and file_md5 == hashlib.md5(data).hexdigest()


def test_a_resume_with_a_hole_in_the_middle_fetches_the_hole_and_the_last_piece(origin, storage, make_config):
    """A partial copy whose gap is not at its end (a member taking a fetch over copies the pieces the cluster
    holds, wherever they are): every complete piece is kept, even with one connection set."""
    data = payload(6 * MiB + 777, seed=13)
    origin.add("/hole", data)
    req = request_for(origin, "/hole")
    mgr = CdnManager(make_config(source_streams=1), storage)
    assert run(mgr, req).failure is None
    w = storage.open_writer(data_key(req.task_id))
    w.write_at(2 * PS, b"\0" * PS)                        # piece 2 lost
    w.close()
    meta = FileMeta.from_json(storage.read_bytes(meta_key(req.task_id)))
    meta.finish, meta.success = False, False                # the run "died" before it finished
    MetaStore(storage).write(meta)
    before, bytes_before = len(origin.requests), origin.download_bytes
    ok = run(CdnManager(make_config(source_streams=1), storage), req)
    assert ok.failure is None and ok.success[2] == hashlib.md5(data).hexdigest()
    cs, last = PS - 5, pieces.piece_total(len(data), PS) - 1
    assert _second_run_ranges(origin, "/hole", before) == [(2 * cs, 3 * cs - 1), (last * cs, len(data) - 1)]
    assert origin.download_bytes - bytes_before == cs + (len(data) - last * cs)
    assert ok.pieces == {n: pieces.piece_md5(w) for n, w in enumerate(expected_pieces(data))}
