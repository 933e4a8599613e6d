import os

import pytest

from dfcommon import pieces
from dfcommon.errors import DfError
from dfdaemon.upload.wrapping import PieceRequest, PieceStream, parse_piece_request, plan_read

PS = 4 * pieces.MiB


def test_parse_valid_headers():
    req = parse_piece_request("bytes=4194304-8388607", "1", str(PS))
    assert req == PieceRequest(start=PS, length=PS, piece_num=1, piece_size=PS, wrapped=True)
    assert parse_piece_request("bytes=0-9", "0", "10", "source").wrapped is False


@pytest.mark.parametrize("rng,num,size", [
    (None, "0", "100"), ("0-99", "0", "100"), ("bytes=99-0", "0", "100"), ("bytes=a-b", "0", "100"),
    ("bytes=0-99", None, "100"), ("bytes=0-99", "-1", "100"), ("bytes=0-99", "x", "100"),
    ("bytes=0-99", "0", None), ("bytes=0-99", "0", "0"), ("bytes=0-99", "0", str(16 * pieces.MiB)),
    ("bytes=0-199", "0", "100"), ("items=0-99", "0", "100"), ("bytes=0-1,5-9", "0", "100"),
])
def test_parse_rejects_bad_headers(rng, num, size):
    with pytest.raises(DfError) as e:
        parse_piece_request(rng, num, size)
    assert e.value.http_status == 400


def test_plan_maps_wrapped_coordinates_to_data_file():
    req = parse_piece_request(f"bytes={2 * 100}-{2 * 100 + 99}", "2", "100")
    plan = plan_read(req, 1000)
    assert (plan.offset, plan.content_len, plan.pad, plan.body_len) == (190, 95, 5, 100)


def test_plan_clips_last_piece_and_serves_empty_file():
    last = plan_read(parse_piece_request("bytes=200-299", "2", "100"), 200)
    assert (last.offset, last.content_len, last.body_len) == (190, 10, 15)
    empty = plan_read(parse_piece_request("bytes=0-99", "0", "100"), 0)
    assert (empty.content_len, empty.body_len) == (0, 5)


@pytest.mark.parametrize("rng,num,size,file_size,source", [
    ("bytes=300-399", "3", "100", 285, None),   # piece 3 starts at 285 == EOF
    ("bytes=0-3", "0", "100", 50, None),        # shorter than the wrapper
    ("bytes=0-99", "5", "100", 50, None),       # start - num*5 < 0
    ("bytes=50-59", "0", "100", 50, "source"),  # beyond the file, unwrapped
])
def test_plan_416(rng, num, size, file_size, source):
    with pytest.raises(DfError) as e:
        plan_read(parse_piece_request(rng, num, size, source), file_size)
    assert e.value.http_status == 416


def test_stream_equals_cdn_wrapping(tmp_path):
    ps = pieces.MiB  # piece sizes are whole MiB: the header keeps them in its top byte
    data = os.urandom(3 * (ps - 5) + 1234)
    path = tmp_path / "f"
    path.write_bytes(data)
    for n in range(pieces.piece_total(len(data), ps)):
        req = parse_piece_request("bytes=" + pieces.range_string(n, ps), str(n), str(ps))
        plan = plan_read(req, len(data))
        fd = os.open(path, os.O_RDONLY)
        body = b"".join(PieceStream(fd, plan, ps, block_size=300_000))
        off, size = pieces.source_span(n, ps, len(data))
        assert body == pieces.wrap(data[off:off + size], ps)
        assert len(body) == plan.body_len
        assert pieces.unwrap(body) == data[off:off + size]


def test_stream_close_releases_fd(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    fd = os.open(path, os.O_RDONLY)
    stream = PieceStream(fd, plan_read(parse_piece_request("bytes=0-99", "0", "100"), 100), 100)
    stream.close()
    with pytest.raises(OSError):
        os.fstat(fd)
