"""Piece math and the Dragonfly 1.x wrapped piece format.

A wrapped piece is a 4-byte big-endian header ``content_len | (piece_size << 4)``, the
content, then one tail byte ``0x7f``. Each piece carries ``piece_size - 5`` source bytes;
in the CDN file wrapped piece *n* starts at ``n * piece_size``.
"""
from __future__ import annotations

import hashlib
import re
import struct

MiB = 1 << 20
WRAP_SIZE = 5
TAIL = b"\x7f"
DEFAULT_PIECE_SIZE = 4 * MiB
MAX_PIECE_SIZE = 15 * MiB
_RANGE_RE = re.compile(r"^(\d+)-(\d+)$")
TARGET_PIECES = 256


def auto_piece_size(length: int | None) -> int:
    """The supernode's default: about ``TARGET_PIECES`` pieces per file, ``length / 256`` rounded to a
    whole MiB, from 1 MiB to 15 MiB (4 MiB when the length is unknown). Smaller than Dragonfly 1.x's rule
    (4 MiB up to 200 MiB, then ``length/100MiB + 2`` MiB, at most 15 MiB) for files up to 3.5 GiB: a piece
    crosses each hop (origin -> CDN -> peer -> peer) sooner, so the pipeline is shorter and the last pieces
    reach every host sooner (bench.distribution at N = 8, 256 MiB: 1.14 x T_min with 1 MiB pieces, 1.16-1.17
    with 2 MiB), while big files keep the piece count (and the scheduler's work) bounded."""
    if length is None or length < 0:
        return DEFAULT_PIECE_SIZE
    mib = (length + TARGET_PIECES * MiB // 2) // (TARGET_PIECES * MiB)
    return min(MAX_PIECE_SIZE, max(1, mib) * MiB)


def content_size(piece_size: int) -> int:
    return piece_size - WRAP_SIZE


def piece_total(length: int, piece_size: int) -> int:
    """Number of wrapped pieces for a source of ``length`` bytes (an empty file has one)."""
    if length <= 0:
        return 1
    cs = content_size(piece_size)
    return (length + cs - 1) // cs


def source_span(piece_num: int, piece_size: int, length: int) -> tuple[int, int]:
    """(offset, size) of piece ``piece_num``'s content in the source file."""
    cs = content_size(piece_size)
    start = piece_num * cs
    return start, max(0, min(cs, length - start))


def header(content_len: int, piece_size: int) -> bytes:
    return struct.pack(">I", (content_len | (piece_size << 4)) & 0xFFFFFFFF)


def parse_header(raw: bytes) -> tuple[int, int]:
    """Return (content_len, piece_size_in_bytes) from a 4-byte header."""
    (v,) = struct.unpack(">I", raw[:4])
    return v & 0xFFFFFF, (v >> 24) * MiB


def wrap(content: bytes, piece_size: int) -> bytes:
    return header(len(content), piece_size) + content + TAIL


def unwrap(wrapped: bytes) -> bytes:
    """Strip header and tail, checking both; raise ValueError on a malformed piece."""
    if len(wrapped) < WRAP_SIZE:
        raise ValueError("piece shorter than its wrapper")
    content_len, _ = parse_header(wrapped)
    if content_len != len(wrapped) - WRAP_SIZE or wrapped[-1:] != TAIL:
        raise ValueError("malformed wrapped piece")
    return wrapped[4:-1]


def piece_md5(wrapped: bytes) -> str:
    """The protocol's piece md5 string: ``md5hex(wrapped):len(wrapped)``."""
    return f"{hashlib.md5(wrapped).hexdigest()}:{len(wrapped)}"


def range_string(piece_num: int, piece_size: int) -> str:
    start = piece_num * piece_size
    return f"{start}-{start + piece_size - 1}"


def parse_range(value: str) -> tuple[int, int]:
    """Parse ``"start-end"`` (inclusive); raise ValueError when malformed."""
    m = _RANGE_RE.match((value or "").strip())
    if not m:
        raise ValueError(f"invalid range {value!r}")
    start, end = int(m.group(1)), int(m.group(2))
    if end < start:
        raise ValueError(f"invalid range {value!r}")
    return start, end


def piece_num_of_range(value: str) -> int:
    start, end = parse_range(value)
    return start // (end - start + 1)


def wrapped_length(length: int, piece_size: int) -> int:
    """Total length of the CDN file (sum of all wrapped pieces)."""
    return max(length, 0) + WRAP_SIZE * piece_total(length, piece_size)
