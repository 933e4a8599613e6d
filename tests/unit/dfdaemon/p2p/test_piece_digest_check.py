"""The piece fetcher checks a piece with our supernode's fast digest when the piece entry carries one, with
the protocol md5 otherwise; a corrupt piece is rejected either way. Real HTTP piece server (BlobServer)."""
import os

import pytest

from dfcommon import piece_digest, pieces
from dfcommon.pool_http import PoolClient
from dfdaemon.p2p.piece_fetcher import PieceError, PieceFetcher
from dfdaemon.p2p.piece_writer import DataFile
from dfdaemon.p2p.supernode_client import PieceTask

from .blob_server import BlobServer

PS = 1 << 20


@pytest.fixture
def served():
    content = os.urandom(PS - 5)
    good = pieces.wrap(content, PS)
    bad = bytearray(good)
    bad[PS // 2] ^= 0x01                               # one flipped bit in the content
    srv = BlobServer({"/good": good, "/bad": bytes(bad)})
    yield srv, content, good
    srv.stop()


def task(srv, path, good, fast: bool, md5: bool = True) -> PieceTask:
    entry = {"range": pieces.range_string(0, PS), "pieceNum": 0, "pieceSize": PS, "cid": "peer",
             "peerIp": "127.0.0.1", "peerPort": srv.port, "path": path,
             "pieceMd5": pieces.piece_md5(good) if md5 else ""}
    if fast:
        entry["pieceDigest"] = piece_digest.of(good)
    return PieceTask.from_json(entry)


def fetch(tmp_path, t):
    sink = DataFile(str(tmp_path / "data"))
    try:
        return PieceFetcher(PoolClient()).fetch(t, sink), open(tmp_path / "data", "rb").read()
    finally:
        sink.close()


@pytest.mark.parametrize("fast", [True, False], ids=["xxh3-128", "md5"])
def test_a_good_piece_passes(tmp_path, served, fast):
    srv, content, good = served
    n, written = fetch(tmp_path, task(srv, "/good", good, fast))
    assert n == len(content) and written == content


@pytest.mark.parametrize("fast", [True, False], ids=["xxh3-128", "md5"])
def test_a_corrupt_piece_is_rejected(tmp_path, served, fast):
    srv, _, good = served
    with pytest.raises(PieceError) as e:
        fetch(tmp_path, task(srv, "/bad", good, fast))
    assert e.value.kind == "md5"
    assert e.value.expected_md5 == pieces.piece_md5(good).split(":")[0]     # what the supernode re-checks
    assert ("xxh3-128" in str(e.value)) == fast


def test_the_fast_digest_alone_still_rejects(tmp_path, served):
    srv, _, good = served
    with pytest.raises(PieceError) as e:
        fetch(tmp_path, task(srv, "/bad", good, fast=True, md5=False))
    assert e.value.kind == "md5"


def test_an_unknown_digest_falls_back_to_md5(tmp_path, served):
    srv, _, good = served
    t = task(srv, "/bad", good, fast=False)
    t.piece_digest = "sha3-999:" + "0" * 32                  # not ours: ignored, the md5 decides
    assert t.fast_digest == ""
    with pytest.raises(PieceError) as e:
        fetch(tmp_path, t)
    assert "md5" in str(e.value) and "xxh3" not in str(e.value)


def test_parse_and_offer():
    assert piece_digest.parse("xxh3-128:" + "A" * 32) == "a" * 32
    assert piece_digest.parse("xxh3-128:zz") == ""
    assert piece_digest.parse("md5:" + "0" * 32) == ""
    assert piece_digest.offered("crc32c, xxh3-128") and not piece_digest.offered("")
