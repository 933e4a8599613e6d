import hashlib

import pytest

from dfcommon import pieces
from dfcommon.pieces import MiB


def test_header_layout_puts_piece_size_in_top_byte():
    h = pieces.header(1234, 4 * MiB)
    assert h[0] == 4
    assert int.from_bytes(h, "big") & 0xFFFFFF == 1234
    assert pieces.parse_header(h) == (1234, 4 * MiB)


def test_wrap_unwrap_roundtrip_and_md5_string():
    content = b"x" * 1000
    w = pieces.wrap(content, 4 * MiB)
    assert len(w) == 1005 and w[-1:] == b"\x7f"
    assert pieces.unwrap(w) == content
    assert pieces.piece_md5(w) == f"{hashlib.md5(w).hexdigest()}:1005"


def test_unwrap_rejects_malformed():
    with pytest.raises(ValueError):
        pieces.unwrap(b"\x00\x00")
    w = bytearray(pieces.wrap(b"abc", 4 * MiB))
    w[-1] = 0
    with pytest.raises(ValueError):
        pieces.unwrap(bytes(w))


def test_piece_counts_and_spans():
    ps = 4 * MiB
    cs = ps - 5
    assert pieces.piece_total(0, ps) == 1
    assert pieces.piece_total(cs, ps) == 1
    assert pieces.piece_total(cs + 1, ps) == 2
    assert pieces.source_span(1, ps, cs + 10) == (cs, 10)
    assert pieces.wrapped_length(cs + 10, ps) == cs + 10 + 10
    assert pieces.wrapped_length(0, ps) == 5


def test_range_strings():
    ps = 4 * MiB
    assert pieces.range_string(2, ps) == f"{2 * ps}-{3 * ps - 1}"
    assert pieces.piece_num_of_range(pieces.range_string(7, ps)) == 7
    for bad in ("", "a-b", "5-3", "1-", "-1"):
        with pytest.raises(ValueError):
            pieces.parse_range(bad)


@pytest.mark.parametrize("length,mib", [(0, 1), (1, 1), (100 << 20, 1), (256 << 20, 1), (384 << 20, 2),
                                        (512 << 20, 2), (1 << 30, 4), (3 << 30, 12), (5 << 30, 15), (None, 4),
                                        (-1, 4)])
def test_auto_piece_size_aims_at_about_256_pieces(length, mib):
    assert pieces.auto_piece_size(length) == mib << 20
