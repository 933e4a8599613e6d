"""The piece server on the download port: range reads of the CDN store.

``GET``/``HEAD /download/<id[:3]>/<64-hex task id>`` with an optional single ``Range: bytes=...``
(``s-e``, ``s-``, ``-n``). Replies 200, 206 with Content-Range, 416 with ``bytes */size``, 400 for a
malformed Range, 404 for unknown or malformed ids, 405 for other methods. A store with real files
returns a :class:`~dfcommon.wsgi_server.FileRange`, which the supernode's server sends with
``os.sendfile``; other stores stream 1 MiB blocks. With a ``pace`` (:mod:`supernode.upload_pacer`),
every connection together sends at most ``upload_rate`` bytes/s, in short sendfile steps.
"""
from __future__ import annotations

import logging
import os
import re

from dfcommon.errors import DfError
from dfcommon.wsgi_server import FileRange
from supernode.upload_pacer import PACE_STEP

log = logging.getLogger(__name__)

BLOCK = 1 << 20
_PATH_RE = re.compile(r"^/download/([0-9a-f]{3})/([0-9a-f]{64})$")
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


class BadRange(Exception):
    pass


class Unsatisfiable(Exception):
    pass


def parse_range(value: str, size: int) -> tuple[int, int]:
    """(start, end inclusive) of a single byte range within ``size`` bytes."""
    m = _RANGE_RE.match(value.strip().replace(" ", ""))
    if not m or (not m.group(1) and not m.group(2)):
        raise BadRange(value)
    first, last = m.group(1), m.group(2)
    if first == "":                                   # suffix: the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            raise Unsatisfiable(value)
        return max(0, size - n), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        raise BadRange(value)
    if start >= size:
        raise Unsatisfiable(value)
    return start, min(end, size - 1)


class _Body:
    """The WSGI body: store blocks, counted in metrics as they are sent."""

    def __init__(self, blocks, metrics, pace=None, on_close=None):
        self._blocks, self._metrics, self._pace, self._on_close = blocks, metrics, pace, on_close

    def __iter__(self):
        for block in self._blocks:
            if self._pace is not None:
                self._pace(len(block))
            if self._metrics is not None:
                self._metrics.piece_server_bytes.inc(len(block))
            yield block

    def close(self):
        close = getattr(self._blocks, "close", None)
        if close is not None:
            close()
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()


def _open_body(storage, key: str, start: int, length: int, metrics, pace=None, on_close=None):
    """A FileRange over the store's real file when it has one, else the store's blocks."""
    path = storage.local_path(key)
    if path is not None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise DfError("NOT_FOUND", f"{key} not found") from None
        sent = metrics.piece_server_bytes.inc if metrics is not None else None
        return FileRange(fd, start, length, sent=sent, pace=pace, step=PACE_STEP if pace else BLOCK,
                         on_close=on_close)
    return _Body(storage.read(key, start, length, BLOCK), metrics, pace, on_close)


def piece_number(environ, start: int) -> int | None:
    """The piece a request asks for: its ``pieceNum`` header (dfget sends it), else the range start over
    its ``pieceSize`` header; None when neither says."""
    num = environ.get("HTTP_PIECENUM", "")
    if num.isdigit():
        return int(num)
    size = environ.get("HTTP_PIECESIZE", "")
    if size.isdigit() and int(size) > 0 and start % int(size) == 0:
        return start // int(size)
    return None


def create_piece_server(storage, metrics=None, pace=None, on_sent=None):
    """A WSGI app serving the store's task files for peers (no other keys are reachable);
    ``pace(n)`` (e.g. :meth:`supernode.upload_pacer.Pacer.acquire`) is called before each block goes out,
    ``on_sent(task_id, piece_num)`` once the server is done with a piece's body (every byte handed to the
    socket, or the client gone): the scheduler frees that send's supernode slot then."""

    def reply(start_response, status: str, headers=(), body: bytes = b""):
        start_response(status, [("Content-Length", str(len(body))), *headers])
        return [body]

    def _ended(environ, task_id: str, start: int):
        piece = piece_number(environ, start) if on_sent is not None else None
        return None if piece is None else (lambda: on_sent(task_id, piece))

    def app(environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        m = _PATH_RE.match(environ.get("PATH_INFO", ""))
        if method not in ("GET", "HEAD"):
            return reply(start_response, "405 Method Not Allowed", [("Allow", "GET, HEAD")])
        if not m or m.group(2)[:3] != m.group(1):
            return reply(start_response, "404 Not Found", body=b"not found")
        key = f"download/{m.group(1)}/{m.group(2)}"
        try:
            size = storage.stat(key).size
        except DfError:
            return reply(start_response, "404 Not Found", body=b"not found")
        common = [("Accept-Ranges", "bytes"), ("Content-Type", "application/octet-stream")]
        header = environ.get("HTTP_RANGE")
        if header is None:
            start, end, status, extra = 0, size - 1, "200 OK", []
        else:
            try:
                start, end = parse_range(header, size)
            except BadRange:
                return reply(start_response, "400 Bad Request", body=b"malformed range")
            except Unsatisfiable:
                return reply(start_response, "416 Range Not Satisfiable", [("Content-Range", f"bytes */{size}")],
                             b"range not satisfiable")
            status, extra = "206 Partial Content", [("Content-Range", f"bytes {start}-{end}/{size}")]
        length = max(0, end - start + 1)
        body = None
        if method == "GET" and length > 0:
            try:
                body = _open_body(storage, key, start, length, metrics, pace, _ended(environ, m.group(2), start))
            except DfError:                               # deleted between stat and read
                return reply(start_response, "404 Not Found", body=b"not found")
        start_response(status, [("Content-Length", str(length)), *common, *extra])
        return [b""] if body is None else body

    return app
