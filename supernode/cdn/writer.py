"""Cut a source stream into pieces, wrap them and write them at ``n * piece_size`` with a few writers.

The reader thread calls :meth:`PieceSink.feed` with blocks as they arrive; full pieces go to a
small bounded queue served by ``writers`` worker threads (greenlets under gevent), each of which
writes one wrapped piece and then reports it, so a piece is servable the moment it is on disk.
"""
from __future__ import annotations

import hashlib
import queue
import threading

from dfcommon import pieces

_STOP = object()


class PieceSink:
    def __init__(self, writer, piece_size: int, start_piece: int, writers: int, file_md5, on_written):
        """``file_md5`` is a running hashlib md5 of the source bytes (already fed with any resumed prefix);
        ``on_written(piece_num, piece_md5)`` is called from a writer thread after each piece is written."""
        self.writer = writer
        self.piece_size = piece_size
        self.content_size = pieces.content_size(piece_size)
        self.next_piece = start_piece
        self.file_md5 = file_md5
        self.on_written = on_written
        self.md5s: dict[int, str] = {}
        self.bytes_fed = 0
        self._buf = bytearray()
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, writers))
        self._threads = [threading.Thread(target=self._work, name=f"cdn-writer-{i}", daemon=True)
                         for i in range(max(1, writers))]
        for t in self._threads:
            t.start()

    def feed(self, data: bytes) -> None:
        self._raise_if_failed()
        self.file_md5.update(data)
        self.bytes_fed += len(data)
        self._buf += data
        cs = self.content_size
        while len(self._buf) >= cs:
            content = bytes(self._buf[:cs])
            del self._buf[:cs]
            self._put(content)

    def _put(self, content: bytes) -> None:
        num = self.next_piece
        self.next_piece += 1
        while True:
            self._raise_if_failed()
            try:
                self._queue.put((num, content), timeout=0.5)
                return
            except queue.Full:
                continue

    def finish(self, empty_piece: bool) -> dict[int, str]:
        """Flush the tail (and the single empty piece of an empty source when ``empty_piece``), wait for the
        writers, and return ``{piece_num: piece_md5}`` of the pieces written by this sink."""
        try:
            if self._buf or empty_piece:
                content, self._buf = bytes(self._buf), bytearray()
                self._put(content)
        finally:
            self.close()
        self._raise_if_failed()
        return self.md5s

    def close(self) -> None:
        """Stop the writers once the queued pieces are written (safe to call more than once)."""
        for _ in self._threads:
            self._queue.put(_STOP)
        for t in self._threads:
            t.join()
        self._threads = []

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._error is not None:
                continue
            num, content = item
            try:
                head = pieces.header(len(content), self.piece_size)
                h = hashlib.md5(head)
                h.update(content)
                h.update(pieces.TAIL)
                md5 = f"{h.hexdigest()}:{len(content) + pieces.WRAP_SIZE}"
                self.writer.write_at(num * self.piece_size, b"".join((head, content, pieces.TAIL)))
                with self._lock:
                    self.md5s[num] = md5
                self.on_written(num, md5)
            except BaseException as e:      # reported to the reader through feed()/finish()
                with self._lock:
                    if self._error is None:
                        self._error = e

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
