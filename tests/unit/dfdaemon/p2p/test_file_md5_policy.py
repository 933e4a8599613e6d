"""When the whole-file md5 pass runs: always for an explicit md5; for the supernode's md5 only when a piece came
without its own md5 and the caller verifies no digest itself. Scripted supernode (see scripted_supernode.py),
real HTTP piece server."""
import os
import random

import pytest

from dfcommon import pieces
from dfdaemon.p2p.downloader import Downloader, DownloaderOptions
from dfdaemon.p2p.pull_loop import BACKOFF_COLD, BACKOFF_START, Backoff
from dfdaemon.p2p.result import BackSourceReason

from .blob_server import BlobServer
from .test_pull_loop import PS, cont, piece, scripted

WRONG_MD5 = "0" * 32


@pytest.fixture
def cdn():
    data = os.urandom(2 * (PS - 5) + 321)
    cs = PS - 5
    wrapped = b"".join(pieces.wrap(data[i:i + cs], PS) for i in range(0, len(data), cs))
    srv = BlobServer({"/download/t/task": wrapped})
    yield srv, data, wrapped
    srv.stop()


def wrong_finish():
    return 200, {"code": 600, "msg": "finish", "data": {"md5": WRONG_MD5, "fileLength": 0}}


def pull(tmp_path, srv, data, wrapped, piece_md5s: bool, **kw):
    def item(n):
        task = piece(n, wrapped, srv.port)
        if not piece_md5s:
            task["pieceMd5"] = ""
        return task
    sn = scripted([cont(item(2), item(1), item(0)), cont(), wrong_finish()], len(data))
    try:
        dl = Downloader(DownloaderOptions(work_home=str(tmp_path / "home"), nodes=[sn.node], local_limit=0))
        return dl.download("http://origin.invalid/f", str(tmp_path / "out" / "f"), pattern="cdn", notbs=True, **kw)
    finally:
        sn.stop()


def test_pieces_with_md5_need_no_file_pass(tmp_path, cdn):
    """Every byte passed a piece md5: the supernode's (here wrong) file md5 is not recomputed."""
    srv, data, wrapped = cdn
    res = pull(tmp_path, srv, data, wrapped, piece_md5s=True)
    assert res.success, res.message
    assert (tmp_path / "out" / "f").read_bytes() == data


def test_pieces_without_md5_are_checked_against_the_file_md5(tmp_path, cdn):
    srv, data, wrapped = cdn
    res = pull(tmp_path, srv, data, wrapped, piece_md5s=False)
    assert not res.success and res.reason == BackSourceReason.MD5_NOT_MATCH + 1000
    assert not (tmp_path / "out" / "f").exists()


def test_a_caller_that_verifies_a_digest_skips_the_file_pass(tmp_path, cdn):
    srv, data, wrapped = cdn
    res = pull(tmp_path, srv, data, wrapped, piece_md5s=False, digest_verified=True)
    assert res.success, res.message
    assert (tmp_path / "out" / "f").read_bytes() == data


def test_an_explicit_md5_is_always_checked(tmp_path, cdn):
    srv, data, wrapped = cdn
    res = pull(tmp_path, srv, data, wrapped, piece_md5s=True, digest_verified=True, md5=WRONG_MD5)
    assert not res.success and res.reason == BackSourceReason.MD5_NOT_MATCH + 1000


def test_cold_backoff_starts_short_and_joins_the_protocol_schedule():
    b = Backoff(random.Random(1), BACKOFF_COLD)
    first = b.next()
    assert BACKOFF_COLD[0] <= first <= BACKOFF_COLD[1] and BACKOFF_COLD[1] <= BACKOFF_START[0]
    b.next()
    assert BACKOFF_START[0] <= b.next() <= BACKOFF_START[1]       # two doublings later: 50-100 ms
    b.reset()
    assert BACKOFF_START[0] <= b.next() <= BACKOFF_START[1]
