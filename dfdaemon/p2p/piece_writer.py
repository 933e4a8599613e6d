"""The task's data file: positional, thread-safe writes of piece content at their source offsets.

The file ``<workHome>/data/<taskFileName>`` holds the UNWRAPPED bytes; piece *n* of a
wrapped (supernode) task lands at ``n * (pieceSize - 5)``, of a ``cdnSource: source`` task
at ``n * pieceSize``. The peer upload server serves this file to other peers.
"""
from __future__ import annotations

import os
import threading

from dfcommon.pieces import content_size


def piece_offset(piece_num: int, piece_size: int, wrapped: bool = True) -> int:
    return piece_num * (content_size(piece_size) if wrapped else piece_size)


class DataFile:
    """An open file written with ``os.pwrite`` from several fetchers at once."""

    def __init__(self, path: str):
        self.path = path
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        self._lock = threading.Lock()
        self.closed = False

    def pwrite(self, offset: int, data) -> None:
        view = memoryview(data)
        while view:
            n = os.pwrite(self._fd, view, offset)
            view, offset = view[n:], offset + n

    def truncate(self, length: int = 0) -> None:
        with self._lock:
            os.ftruncate(self._fd, length)

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def sync(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self.closed = True
                os.close(self._fd)

    def remove(self) -> None:
        self.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
