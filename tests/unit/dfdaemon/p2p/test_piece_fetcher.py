import os

import pytest
from dfcommon.pool_http import PoolClient

from dfcommon import pieces
from dfdaemon.p2p.piece_fetcher import PieceError, PieceFetcher, clip_range, piece_timeout
from dfdaemon.p2p.piece_writer import DataFile
from dfdaemon.p2p.supernode_client import PieceTask

from .blob_server import BlobServer

PS = 1 << 20          # smallest piece size the wrapper header can express (whole MiB)


def cdn_file(data: bytes, ps: int = PS) -> bytes:
    cs = ps - 5
    return b"".join(pieces.wrap(data[i:i + cs], ps) for i in range(0, max(len(data), 1), cs))


@pytest.fixture
def source_bytes():
    return os.urandom(3 * (PS - 5) - 1000)


@pytest.fixture
def server(source_bytes):
    srv = BlobServer({"/download/abc/task": cdn_file(source_bytes), "/raw": source_bytes})
    yield srv
    srv.stop()


def task_for(n, blob, port, path="/download/abc/task", md5=None):
    wrapped = blob[n * PS:(n + 1) * PS]
    return PieceTask(range=pieces.range_string(n, PS), piece_num=n, piece_size=PS,
                     piece_md5=md5 if md5 is not None else pieces.piece_md5(wrapped), cid="peer-1",
                     peer_ip="127.0.0.1", peer_port=port, path=path)


def test_fetch_unwraps_verifies_and_writes_at_offset(tmp_path, server, source_bytes):
    blob = server.blobs["/download/abc/task"]
    fetcher = PieceFetcher(PoolClient())
    with DataFile(str(tmp_path / "data")) as df:
        total = 0
        for n in (2, 0, 1):                       # out of order on purpose
            total += fetcher.fetch(task_for(n, blob, server.port), df)
    assert total == len(source_bytes)
    assert (tmp_path / "data").read_bytes() == source_bytes
    hdr = server.seen[0]
    assert hdr["Range"] == "bytes=" + pieces.range_string(2, PS)
    assert hdr["pieceNum"] == "2" and hdr["pieceSize"] == str(PS)
    assert hdr["User-Agent"].startswith("dfget")


def test_md5_mismatch_is_reported_with_both_digests(tmp_path, server):
    blob = server.blobs["/download/abc/task"]
    bad = "0" * 32 + f":{PS}"
    with DataFile(str(tmp_path / "d")) as df, pytest.raises(PieceError) as ei:
        PieceFetcher(PoolClient()).fetch(task_for(0, blob, server.port, md5=bad), df)
    assert ei.value.kind == "md5"
    assert ei.value.expected_md5 == "0" * 32
    assert ei.value.real_md5 == pieces.piece_md5(blob[:PS]).split(":")[0]


def test_missing_file_is_not_found(tmp_path, server):
    blob = server.blobs["/download/abc/task"]
    with DataFile(str(tmp_path / "d")) as df, pytest.raises(PieceError) as ei:
        PieceFetcher(PoolClient()).fetch(task_for(0, blob, server.port, path="/nope"), df)
    assert ei.value.kind == "not_found" and ei.value.status == 404


def test_bad_tail_or_header_is_malformed(tmp_path, server):
    blob = bytearray(server.blobs["/download/abc/task"])
    blob[PS - 1] = 0                              # tail of piece 0
    server.blobs["/broken"] = bytes(blob)
    t = task_for(0, bytes(blob), server.port, path="/broken", md5="")
    with DataFile(str(tmp_path / "d")) as df, pytest.raises(PieceError) as ei:
        PieceFetcher(PoolClient()).fetch(t, df)
    assert ei.value.kind == "malformed"


def test_dead_peer_is_a_connect_error(tmp_path, server):
    from tests.helpers import free_port
    blob = server.blobs["/download/abc/task"]
    t = task_for(0, blob, free_port())
    with DataFile(str(tmp_path / "d")) as df, pytest.raises(PieceError) as ei:
        PieceFetcher(PoolClient()).fetch(t, df)
    assert ei.value.kind == "connect"


def test_source_pieces_are_raw_ranges_with_cdn_source_header(tmp_path, server, source_bytes):
    url = f"http://127.0.0.1:{server.port}/raw"
    fetcher = PieceFetcher(PoolClient(), source_headers=[("X-Token", "t1")])
    n_pieces = (len(source_bytes) + PS - 1) // PS
    with DataFile(str(tmp_path / "d")) as df:
        for n in range(n_pieces):
            t = PieceTask(range=f"{n * PS}-{n * PS + PS - 1}", piece_num=n, piece_size=PS, path=url)
            fetcher.fetch(t, df, source=True, file_length=len(source_bytes))
    assert (tmp_path / "d").read_bytes() == source_bytes
    assert server.seen[-1]["cdnSource"] == "source" and server.seen[-1]["X-Token"] == "t1"
    assert server.seen[-1]["Range"] == f"bytes={(n_pieces - 1) * PS}-{len(source_bytes) - 1}"


def test_helpers():
    assert clip_range("0-99", 50) == "0-49"
    assert clip_range("0-99", -1) == "0-99"
    assert piece_timeout(4 << 20, 64 << 10) == 64 + 10
