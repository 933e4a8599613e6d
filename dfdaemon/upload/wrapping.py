"""Peer piece requests: parse the request headers, plan the file read, stream the wrapped piece.

A peer asks for piece ``pieceNum`` in *wrapped* coordinates (``Range: bytes=s-e`` over the
CDN file, where each piece carries a 4-byte header and a 1-byte tail). The upload server
keeps only the unwrapped data file, so the content of the piece starts at
``s - pieceNum * 5`` there and the wrapper is added on the fly. With ``cdnSource: source``
the pieces are plain byte ranges of the source and nothing is wrapped.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from dfcommon import pieces
from dfcommon.errors import DfError
from dfcommon.wsgi_server import SendfileSpec

log = logging.getLogger(__name__)

BLOCK_SIZE = 1 << 20
MAX_PIECE_SIZE = 16 * pieces.MiB - 1   # the header keeps the piece size in one byte of MiB


@dataclass(frozen=True)
class PieceRequest:
    start: int        # first byte, in the coordinates the peer asked for
    length: int       # bytes asked for (end - start + 1)
    piece_num: int
    piece_size: int
    wrapped: bool


@dataclass(frozen=True)
class ReadPlan:
    offset: int       # where the content starts in the data file
    content_len: int  # bytes of content to read
    pad: int          # 5 when wrapped, else 0

    @property
    def body_len(self) -> int:
        return self.content_len + self.pad


def _int_header(name: str, value) -> int:
    text = (value or "").strip()
    if not text.isdigit():
        raise DfError("INVALID_PARAM", f"invalid {name} header {value!r}")
    return int(text)


def parse_piece_request(range_header, piece_num, piece_size, cdn_source=None) -> PieceRequest:
    """Validate the headers of ``GET /peer/file/...``; any problem is an INVALID_PARAM (400)."""
    num = _int_header("pieceNum", piece_num)
    size = _int_header("pieceSize", piece_size)
    if not 0 < size <= MAX_PIECE_SIZE:
        raise DfError("INVALID_PARAM", f"invalid pieceSize {size}")
    value = (range_header or "").strip()
    unit, sep, spec = value.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        raise DfError("INVALID_PARAM", f"invalid Range header {range_header!r}")
    try:
        start, end = pieces.parse_range(spec)
    except ValueError:
        raise DfError("INVALID_PARAM", f"invalid Range header {range_header!r}") from None
    length = end - start + 1
    if length > size:
        raise DfError("INVALID_PARAM", f"range of {length} bytes is longer than pieceSize {size}")
    wrapped = (cdn_source or "").strip().lower() != "source"
    return PieceRequest(start=start, length=length, piece_num=num, piece_size=size, wrapped=wrapped)


def plan_read(req: PieceRequest, file_size: int) -> ReadPlan:
    """Map the request onto the unwrapped data file; 416 when it falls outside the file."""
    pad = pieces.WRAP_SIZE if req.wrapped else 0
    offset = req.start - req.piece_num * pad
    if req.length < pad or offset < 0:
        raise DfError("RANGE_NOT_SATISFIABLE", "range not satisfiable")
    empty_piece = req.wrapped and file_size == 0 and offset == 0
    if offset >= file_size and not empty_piece:
        raise DfError("RANGE_NOT_SATISFIABLE", "range not satisfiable")
    content_len = min(req.length - pad, file_size - offset)
    return ReadPlan(offset=offset, content_len=content_len, pad=pad)


class PieceStream:
    """Iterator over a piece body: header, the content in blocks of at most 1 MiB, tail
    (or, through :meth:`sendfile_spec`, the same bytes sent with os.sendfile).

    It owns ``fd`` and closes it when exhausted or when the server calls ``close()``.
    ``limiter`` (anything with ``acquire(n)``) paces the content bytes.
    """

    def __init__(self, fd: int, plan: ReadPlan, piece_size: int, limiter=None, block_size: int = BLOCK_SIZE):
        self._fd = fd
        self._plan = plan
        self._piece_size = piece_size
        self._limiter = limiter
        self._block = block_size

    def sendfile_spec(self) -> SendfileSpec:
        """The same body for :class:`~dfcommon.wsgi_server.SendfileHandler`: header, file range, tail."""
        pad = bool(self._plan.pad)
        return SendfileSpec(self._fd, self._plan.offset, self._plan.content_len,
                            prefix=pieces.header(self._plan.content_len, self._piece_size) if pad else b"",
                            suffix=pieces.TAIL if pad else b"",
                            pace=self._limiter.acquire if self._limiter is not None else None)

    def __iter__(self):
        try:
            if self._plan.pad:
                yield pieces.header(self._plan.content_len, self._piece_size)
            pos, remaining = self._plan.offset, self._plan.content_len
            while remaining > 0:
                n = min(self._block, remaining)
                if self._limiter is not None:
                    self._limiter.acquire(n)
                data = os.pread(self._fd, n, pos)
                if not data:
                    # the file shrank under us: stop short, the peer sees a short body
                    log.warning("piece read ended early offset=%d missing=%d", pos, remaining)
                    return
                yield data
                pos += len(data)
                remaining -= len(data)
            if self._plan.pad:
                yield pieces.TAIL
        finally:
            self.close()

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)
