"""An in-order byte stream over a file filled out of order, for in-process consumers.

:class:`Progress` tracks which byte spans of the current file are written and verified and
exposes the contiguous prefix (``ready``). :class:`ByteStream` yields that prefix in 1 MiB
blocks as it grows, so the dfdaemon can send a blob to its client while pieces still
arrive. When the downloader falls back to the source it ``switch``es to the new file; the
reader keeps its position (same bytes, same offsets) and continues from there.
"""
from __future__ import annotations

import os
import threading

from dfcommon.offload import offload

from .result import DownloadError

BLOCK = 1 << 20


class Progress:
    """Written spans of the current file plus the finished/failed state, under one condition."""

    def __init__(self, path: str | None = None):
        self._cond = threading.Condition()
        self.path = path
        self.ready = 0
        self._spans: dict[int, int] = {}       # start -> end (exclusive) of spans beyond ready
        self.total: int | None = None        # set when the download is complete
        self.expected: int | None = None     # source length once known (for progress bars)
        self.error: BaseException | None = None
        self.version = 0

    def switch(self, path: str) -> None:
        """Start over on another file (back-to-source, or a piece-size change on migration)."""
        with self._cond:
            self.path, self.ready, self._spans = path, 0, {}
            self.version += 1
            self._cond.notify_all()

    def add(self, offset: int, length: int) -> None:
        if length <= 0:
            return
        with self._cond:
            end = offset + length
            if end <= self.ready:
                return
            self._spans[offset] = max(end, self._spans.get(offset, 0))
            advanced = False
            while True:
                nxt = self._spans.pop(self.ready, None)
                if nxt is None:
                    break
                self.ready, advanced = max(self.ready, nxt), True
            if advanced:
                self._cond.notify_all()

    def finish(self, total: int, path: str | None = None) -> None:
        with self._cond:
            if path is not None and path != self.path:
                self.path, self._spans = path, {}
                self.version += 1
            self.total, self.ready = total, total
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        with self._cond:
            self.error = error
            self._cond.notify_all()

    def wait_beyond(self, pos: int, timeout: float | None = None):
        """Block until bytes beyond ``pos`` are ready, the stream ends or fails; return (path, ready, total)."""
        with self._cond:
            while self.error is None and self.ready <= pos and (self.total is None or pos < self.total):
                if not self._cond.wait(timeout):
                    break
            if self.error is not None:
                raise self.error
            return self.path, self.ready, self.total


class ByteStream:
    """Iterator of byte blocks in file order; ``close()`` cancels the download behind it."""

    def __init__(self, progress: Progress, on_close=None, block: int = BLOCK):
        self.progress = progress
        self.pos = 0
        self.block = block
        self._on_close = on_close
        self._fh = None
        self._fh_key = None
        self.closed = False

    def __iter__(self):
        return self

    def _file(self, path: str):
        key = (path, self.progress.version)
        if self._fh_key != key:
            if self._fh is not None:
                self._fh.close()
            self._fh = open(path, "rb")
            self._fh_key = key
        return self._fh

    def __next__(self) -> bytes:
        if self.closed:
            raise StopIteration
        while True:
            path, ready, total = self.progress.wait_beyond(self.pos, timeout=1.0)
            if total is not None and self.pos >= total:
                self.close(finished=True)
                raise StopIteration
            if ready > self.pos and path:
                fh = self._file(path)
                n = min(self.block, ready - self.pos)
                data = offload(os.pread, fh.fileno(), n, self.pos)     # the copy runs off the gevent hub
                if not data:
                    raise DownloadError(1104, f"stream file {os.path.basename(path)} is shorter than expected")
                self.pos += len(data)
                return data

    def close(self, finished: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._on_close is not None:
            self._on_close(finished)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
