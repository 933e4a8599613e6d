"""Lazy md5: with the fast digest on, the CDN hashes each written byte with XXH3-128 only and computes the
protocol's piece md5 and whole-file md5 from the stored file when they are asked for (real origin server,
real local storage)."""
from __future__ import annotations

import hashlib

from dfcommon import piece_digest, pieces
from supernode.cdn import CdnManager, data_key, meta_key
from supernode.cdn import types as T
from supernode.cdn.metadata import FileMeta, decode_md5_file

from .conftest import MiB
from .test_cdn_manager import PS, expected_pieces, payload, request_for, run


def lazy_manager(make_config, storage, **over):
    mgr = CdnManager(make_config(fast_digest=True, **over), storage)
    mgr.lazy_md5 = True
    return mgr


def test_pieces_are_written_with_the_fast_digest_alone_and_md5s_come_on_demand(origin, storage, make_config):
    data = payload(3 * MiB + 17)
    origin.add("/lazy", data)
    req = request_for(origin, "/lazy")
    mgr = lazy_manager(make_config, storage)
    res = run(mgr, req)
    assert res.failure is None
    wrapped = expected_pieces(data)
    assert res.pieces == {n: "" for n in range(len(wrapped))}          # no md5 computed while writing
    assert res.success[2] == ""                                          # nor the whole-file md5
    for n, w in enumerate(wrapped):
        assert mgr.piece_digest(req.task_id, n) == piece_digest.of(w)
    stored, file_md5 = decode_md5_file(storage.read_bytes(f"download/{req.task_id[:3]}/{req.task_id}.md5"))
    assert stored == [piece_digest.of(w) for w in wrapped] and file_md5 == ""

    assert mgr.piece_md5(req.task_id, 1) == ""                          # the cheap lookup computes nothing
    assert mgr.ensure_piece_md5(req.task_id, 1) == pieces.piece_md5(wrapped[1])
    assert mgr.piece_md5(req.task_id, 1) == pieces.piece_md5(wrapped[1])    # remembered
    assert mgr.ensure_file_md5(req.task_id) == hashlib.md5(data).hexdigest()
    meta = FileMeta.from_json(storage.read_bytes(meta_key(req.task_id)))
    assert meta.realMd5 == hashlib.md5(data).hexdigest()
    _, file_md5 = decode_md5_file(storage.read_bytes(f"download/{req.task_id[:3]}/{req.task_id}.md5"))
    assert file_md5 == meta.realMd5


def test_a_registered_md5_is_still_checked_while_writing(origin, storage, make_config):
    data = payload(2 * MiB + 5, seed=3)
    origin.add("/lazy-md5", data)
    bad = request_for(origin, "/lazy-md5", md5="0" * 32)
    res = run(lazy_manager(make_config, storage), bad)
    assert res.failure is not None and "md5 mismatch" in res.failure[1]
    good = request_for(origin, "/lazy-md5", md5=hashlib.md5(data).hexdigest())
    res = run(lazy_manager(make_config, storage), good)
    assert res.failure is None and res.success[2] == hashlib.md5(data).hexdigest()


def cached_then_corrupted(origin, storage, make_config, path, size, seed, offset):
    """A lazy-md5 manager that cached ``path`` (``size`` bytes); then ``offset`` of its CDN file is overwritten."""
    origin.add(path, payload(size, seed=seed))
    req = request_for(origin, path)
    mgr = lazy_manager(make_config, storage)
    assert run(mgr, req).failure is None
    w = storage.open_writer(data_key(req.task_id))
    w.write_at(offset, b"corrupt!")
    w.close()
    return mgr, req


def test_a_piece_corrupted_on_disk_gets_no_md5_and_the_task_is_collected(origin, storage, make_config):
    mgr, req = cached_then_corrupted(origin, storage, make_config, "/lazy-bad", 3 * MiB, 4, 2 * PS + 100)
    assert mgr.ensure_piece_md5(req.task_id, 2) == ""                   # not the md5 of the corrupt bytes
    assert not storage.exists(data_key(req.task_id)) and mgr.status(req.task_id) == T.WAITING


def test_a_corrupt_file_gets_no_whole_file_md5(origin, storage, make_config):
    mgr, req = cached_then_corrupted(origin, storage, make_config, "/lazy-bad-file", 3 * MiB, 5, PS + 7)
    assert mgr.ensure_file_md5(req.task_id) == ""
    assert not storage.exists(data_key(req.task_id))


def test_check_piece_judges_a_lazy_piece_by_its_fast_digest(origin, storage, make_config):
    data = payload(2 * MiB, seed=6)
    origin.add("/lazy-chk", data)
    req = request_for(origin, "/lazy-chk")
    mgr = lazy_manager(make_config, storage)
    assert run(mgr, req).failure is None
    assert mgr.check_piece(req.task_id, 1, "")
    w = storage.open_writer(data_key(req.task_id))
    w.write_at(PS + 100, b"corrupt!")
    w.close()
    assert not mgr.check_piece(req.task_id, 1, "")
    assert not storage.exists(data_key(req.task_id))


def test_a_restarted_supernode_replays_the_fast_digests(origin, storage, make_config):
    data = payload(3 * MiB + 1, seed=7)
    origin.add("/lazy-hit", data)
    req = request_for(origin, "/lazy-hit")
    assert run(lazy_manager(make_config, storage), req).failure is None
    wrapped = expected_pieces(data)
    again = lazy_manager(make_config, storage)                           # same store, new process
    res = run(again, req)
    assert res.failure is None and res.pieces == {n: "" for n in range(len(wrapped))}
    assert [again.piece_digest(req.task_id, n) for n in range(len(wrapped))] == \
        [piece_digest.of(w) for w in wrapped]
    assert again.ensure_piece_md5(req.task_id, 0) == pieces.piece_md5(wrapped[0])

    eager = CdnManager(make_config(fast_digest=False), storage)          # md5s for everyone again: rebuilt
    res = run(eager, req)
    assert res.failure is None
    assert res.pieces == {n: pieces.piece_md5(w) for n, w in enumerate(wrapped)}
    assert res.success[2] == hashlib.md5(data).hexdigest()


def test_segmented_download_is_lazy_too(origin, storage, make_config):
    data = payload(9 * MiB + 3, seed=8)
    origin.add("/lazy-seg", data)
    req = request_for(origin, "/lazy-seg")
    mgr = lazy_manager(make_config, storage, source_streams=3, source_chunk=2 * MiB)
    res = run(mgr, req)
    assert res.failure is None and set(res.pieces.values()) == {""} and res.success[2] == ""
    wrapped = expected_pieces(data)
    assert [mgr.piece_digest(req.task_id, n) for n in range(len(wrapped))] == [piece_digest.of(w) for w in wrapped]
    assert mgr.ensure_file_md5(req.task_id) == hashlib.md5(data).hexdigest()


def test_lazy_md5_stays_off_without_the_fast_digest(storage, make_config):
    mgr = CdnManager(make_config(fast_digest=False), storage)
    mgr.lazy_md5 = True
    assert mgr.lazy_md5 is False
