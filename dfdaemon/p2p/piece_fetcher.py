"""Fetch one piece from a peer, the supernode's piece server, or (``cdnSource: source``) the origin.

The body streams in 1 MiB blocks through the rate limiter and a running digest (the fast
``pieceDigest`` our supernode gives our clients, else the protocol's md5); the wrapper
(4-byte header, 0x7f tail) is checked and stripped on the fly and the content is written
straight into the data file, so a piece is never held whole in memory. The md5 and the write
of each block run together in a native thread under gevent (:func:`dfcommon.offload.offload`),
so the hub keeps receiving while the second core hashes. The caller only treats the piece as
done (and tells anyone) after :meth:`PieceFetcher.fetch` returns.
"""
from __future__ import annotations

import hashlib
import logging
import time

from dfcommon import piece_digest
from dfcommon.offload import offload
from dfcommon.pieces import WRAP_SIZE, parse_header, parse_range
from dfcommon.pool_http import HttpError, PoolClient

from .piece_writer import DataFile, piece_offset
from .supernode_client import PieceTask

log = logging.getLogger(__name__)

BLOCK = 1 << 20
TAIL_BYTE = 0x7F


class PieceError(Exception):
    """A piece could not be fetched. ``kind``: connect, http, denied, not_found, md5, malformed, timeout, stalled
    (the source sent nothing for the stall timeout), cancelled."""

    def __init__(self, kind: str, message: str, status: int | None = None, real_md5: str = "", expected_md5: str = ""):
        super().__init__(message)
        self.kind, self.status, self.real_md5, self.expected_md5 = kind, status, real_md5, expected_md5


def piece_timeout(piece_size: int, min_rate: int) -> float:
    """``pieceSize / minRate + 10 s`` (Dragonfly's per-piece timeout)."""
    return piece_size / max(min_rate, 1) + 10.0


def clip_range(range_: str, file_length: int) -> str:
    """Clip a source-pattern range to the file end (the last piece is short)."""
    start, end = parse_range(range_)
    if file_length > 0 and end > file_length - 1:
        end = file_length - 1
    return f"{start}-{end}"


class _Unwrapper:
    """Strips header and tail from a wrapped piece arriving in blocks; writes content at ``base``."""

    def __init__(self, sink: DataFile, base: int, expected_len: int | None):
        self.sink, self.base, self.expected_len = sink, base, expected_len
        self.pos = 0                  # bytes of the wrapped piece seen
        self.head = b""
        self.content_len: int | None = None
        self.tail = None

    def feed(self, block: bytes) -> None:
        block = memoryview(block)          # slices below are views, not copies of the 1 MiB block
        if self.content_len is None:
            need = 4 - len(self.head)
            self.head += bytes(block[:need])
            self.pos += min(need, len(block))
            block = block[need:]
            if len(self.head) < 4:
                return
            self.content_len, _ = parse_header(self.head)
            if self.expected_len is not None and self.content_len + WRAP_SIZE != self.expected_len:
                raise PieceError("malformed", f"header says {self.content_len} content bytes, "
                                              f"expected {self.expected_len - WRAP_SIZE}")
        if not block:
            return
        c_off = self.pos - 4
        room = self.content_len - c_off
        content = block[:max(room, 0)]
        if content:
            self.sink.pwrite(self.base + c_off, content)
        rest = block[len(content):]
        if rest:
            if self.tail is not None or len(rest) > 1:
                raise PieceError("malformed", "piece longer than its header says")
            self.tail = rest[0]
        self.pos += len(block)

    def finish(self) -> int:
        if self.content_len is None or self.tail is None or self.pos != self.content_len + WRAP_SIZE:
            raise PieceError("malformed", f"piece truncated after {self.pos} bytes")
        if self.tail != TAIL_BYTE:
            raise PieceError("malformed", "piece tail byte is not 0x7f")
        return self.content_len


def _hash_and_write(md5, sink: DataFile, offset: int, block: bytes) -> None:
    md5.update(block)
    sink.pwrite(offset, block)


class _Consumer:
    """md5 then unwrap-and-write of one block: one native-thread step (no gevent objects touched)."""

    def __init__(self, md5, feed):
        self.md5, self.feed = md5, feed

    def __call__(self, block: bytes) -> None:
        self.md5.update(block)
        self.feed(block)


class PieceFetcher:
    """Fetches pieces with ``Range``/``pieceNum``/``pieceSize`` headers and checks their md5."""

    def __init__(self, http: PoolClient, limiter=None, min_rate: int = 64 << 10,
                 user_agent: str = "dfget", connect_timeout: float = 5.0, source_headers=None,
                 source_verify=True, peer_verify=True, stall_timeout: float = 0.0):
        self.http = http
        self.stall_timeout = stall_timeout  # no byte from a source for this long fails the piece ("stalled")
        self.limiter = limiter
        self.min_rate = min_rate
        self.user_agent = user_agent
        self.connect_timeout = connect_timeout
        self.source_headers = list(source_headers or [])      # [(key, value)] for cdnSource: source
        self.source_verify = source_verify
        self.peer_verify = peer_verify      # CA bundle for https pieces (peers and the piece server), or True

    def _request(self, task: PieceTask, source: bool, file_length: int):
        headers = {"User-Agent": self.user_agent, "pieceNum": str(task.piece_num), "pieceSize": str(task.piece_size)}
        if source:
            url = task.path
            for k, v in self.source_headers:
                headers[k] = v
            headers["cdnSource"] = "source"
            headers["Range"] = "bytes=" + clip_range(task.range, file_length)
            return url, headers
        host = f"[{task.peer_ip}]" if ":" in task.peer_ip else task.peer_ip
        headers["Range"] = "bytes=" + task.range
        if task.token:                      # a peer token from the supernode; never sent to the source
            headers["Authorization"] = f"Bearer {task.token}"
        return f"{task.scheme}://{host}:{task.peer_port}{task.path}", headers

    def fetch(self, task: PieceTask, sink: DataFile, source: bool = False, file_length: int = -1,
              cancelled=None) -> int:
        """Download ``task`` into ``sink``; return the number of content bytes written."""
        url, headers = self._request(task, source, file_length)
        timeout = piece_timeout(task.piece_size, self.min_rate)
        deadline = time.monotonic() + timeout
        # the socket's read timeout is the watchdog: it fires when no byte (reply head or body) came for that long
        stall = self.stall_timeout if 0 < self.stall_timeout < timeout else 0.0
        try:
            resp = self.http.request("GET", url, headers=headers, timeout=(self.connect_timeout, stall or timeout),
                                     verify=self.source_verify if source else self.peer_verify, env_proxies=source)
        except HttpError as e:
            if e.kind == "timeout" and stall:
                raise PieceError("stalled", f"piece {task.range}: no reply from {url} for {stall:g}s") from None
            if e.kind == "timeout":
                raise PieceError("timeout", f"piece {task.range}: no reply from {url}") from None
            raise PieceError("connect", f"piece {task.range}: {e} for {url}") from None
        with resp:
            if resp.status == 404:
                raise PieceError("not_found", f"piece {task.range}: 404 from {url}", status=404)
            if resp.status in (401, 403):
                raise PieceError("denied", f"piece {task.range}: HTTP {resp.status} from {url}: "
                                 f"{resp.text()}", status=resp.status)
            if resp.status not in (200, 206):
                raise PieceError("http", f"piece {task.range}: HTTP {resp.status} from {url}", status=resp.status)
            fast = "" if source else task.fast_digest     # our supernode's XXH3-128, else the protocol md5
            md5 = piece_digest.new_hasher() if fast else hashlib.md5()
            if source:
                base = piece_offset(task.piece_num, task.piece_size, wrapped=False)
                written = 0
            else:
                unwrapper = _Unwrapper(sink, piece_offset(task.piece_num, task.piece_size), task.expected_length)
                consume = _Consumer(md5, unwrapper.feed)
            try:
                for block in resp.blocks(BLOCK):
                    if cancelled is not None and cancelled.is_set():
                        raise PieceError("cancelled", "download cancelled")
                    if time.monotonic() > deadline:
                        raise PieceError("timeout", f"piece {task.range}: slower than the minimum rate")
                    if self.limiter is not None:
                        self.limiter.acquire(len(block))
                    if source:
                        offload(_hash_and_write, md5, sink, base + written, block)
                        written += len(block)
                    else:
                        offload(consume, block)
            except HttpError as e:
                if e.kind == "timeout" and stall:
                    raise PieceError("stalled", f"piece {task.range}: no byte from {url} for {stall:g}s") from None
                raise PieceError(e.kind, f"piece {task.range}: {e}") from None
        real = md5.hexdigest()
        if fast:
            if real != fast:        # reported as an md5 mismatch; the supernode re-checks its copy by md5
                raise PieceError("md5", f"piece {task.range}: {piece_digest.ALGO} {real} does not match {fast}",
                                 expected_md5=task.expected_md5)
        elif task.expected_md5 and real != task.expected_md5:
            raise PieceError("md5", f"piece {task.range}: md5 {real} does not match {task.expected_md5}",
                             real_md5=real, expected_md5=task.expected_md5)
        if source:
            start, end = parse_range(clip_range(task.range, file_length))
            if written != end - start + 1:
                raise PieceError("malformed", f"piece {task.range}: got {written} bytes, expected {end - start + 1}")
            return written
        return unwrapper.finish()
