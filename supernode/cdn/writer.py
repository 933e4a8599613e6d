"""Cut a source stream into pieces, wrap them and write them at ``n * piece_size`` with a few writers.

The reader calls :meth:`PieceSink.feed` with blocks as they arrive; each block is copied once,
straight into the buffer of the wrapped piece it belongs to (header room, content, tail). A full
piece goes to two small bounded queues: one hasher adds its content to the file md5 in piece
order, and ``writers`` workers each compute a piece's md5, write it and then report it, so a
piece is servable the moment it is on disk. Hashing and file writes run through
:func:`dfcommon.offload.offload`: under gevent they use native threads, so the hub keeps
serving peers (and the second core does the md5) while the CDN downloads.

That sink holds up to about ``2 * writers + 2`` whole pieces, so its memory follows the piece size. When
the source length is known (the usual case: registries send Content-Length), :class:`StreamingPieceSink`
keeps the same contract without holding any piece: each block is written at its place and hashed on the
way, so the CDN's memory does not depend on the piece or blob size.
"""
from __future__ import annotations

import hashlib
import queue
import threading

from dfcommon import piece_digest, pieces
from dfcommon.offload import OrderedOffload, offload

_STOP = object()
_TAIL = pieces.TAIL[0]


def _md5_and_write(writer, offset: int, wrapped, native_write: bool) -> str:
    """The protocol md5 string of a wrapped piece; writes it too when ``native_write``."""
    md5 = f"{hashlib.md5(wrapped).hexdigest()}:{len(wrapped)}"
    if native_write:
        writer.write_at(offset, wrapped)
    return md5


class _Sink:
    """What both sinks keep: where the pieces go, the running file md5, the report, what was written so far.

    ``file_md5`` is a running hashlib md5 of the source bytes (already fed with any resumed prefix);
    ``on_written(piece_num, piece_md5)`` is called after each piece is written. A writer whose class sets
    ``offloadable = True`` is written from native threads under gevent."""

    def __init__(self, writer, piece_size: int, start_piece: int, file_md5, on_written):
        self.writer = writer
        self.piece_size = piece_size
        self.content_size = pieces.content_size(piece_size)
        self.next_piece = start_piece
        self.file_md5 = file_md5
        self.on_written = on_written
        self.md5s: dict[int, str] = {}
        self.bytes_fed = 0
        self._native_write = bool(getattr(writer, "offloadable", False))


class PieceSink(_Sink):
    def __init__(self, writer, piece_size: int, start_piece: int, writers: int, file_md5, on_written):
        """See :class:`_Sink`; ``writers`` threads hash, write and report whole pieces (``on_written`` runs in
        one of them)."""
        super().__init__(writer, piece_size, start_piece, file_md5, on_written)
        self._piece: bytearray | None = None     # the wrapped piece being filled
        self._fill = 0                           # content bytes in it
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        n = max(1, writers)
        self._queue: queue.Queue = queue.Queue(maxsize=n)
        self._hash_queue: queue.Queue = queue.Queue(maxsize=2)
        self._threads = [threading.Thread(target=self._work, name=f"cdn-writer-{i}", daemon=True) for i in range(n)]
        self._threads.append(threading.Thread(target=self._hash, name="cdn-hasher", daemon=True))
        for t in self._threads:
            t.start()

    def feed(self, data) -> None:
        self._raise_if_failed()
        view = memoryview(data)
        self.bytes_fed += len(view)
        cs = self.content_size
        while len(view):
            if self._piece is None:
                self._piece, self._fill = bytearray(self.piece_size), 0
            n = min(cs - self._fill, len(view))
            self._piece[4 + self._fill:4 + self._fill + n] = view[:n]
            self._fill += n
            view = view[n:]
            if self._fill == cs:
                self._emit()

    def _emit(self) -> None:
        buf, n = self._piece if self._piece is not None else bytearray(pieces.WRAP_SIZE), self._fill
        self._piece, self._fill = None, 0
        if len(buf) != n + pieces.WRAP_SIZE:
            del buf[n + pieces.WRAP_SIZE:]                  # the short last piece
        buf[:4] = pieces.header(n, self.piece_size)
        buf[n + 4] = _TAIL
        num = self.next_piece
        self.next_piece += 1
        self._put(self._hash_queue, (buf, n))
        self._put(self._queue, (num, buf))

    def _put(self, q: queue.Queue, item) -> None:
        while True:
            self._raise_if_failed()
            try:
                q.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def finish(self, empty_piece: bool) -> dict[int, str]:
        """Flush the tail (and the single empty piece of an empty source when ``empty_piece``), wait for the
        writers, and return ``{piece_num: piece_md5}`` of the pieces written by this sink."""
        try:
            if self._fill or empty_piece:
                self._emit()
        finally:
            self.close()
        self._raise_if_failed()
        return self.md5s

    def close(self) -> None:
        """Stop the workers once the queued pieces are done (safe to call more than once)."""
        if not self._threads:
            return
        for _ in self._threads[:-1]:
            self._queue.put(_STOP)
        self._hash_queue.put(_STOP)
        for t in self._threads:
            t.join()
        self._threads = []

    def _hash(self) -> None:
        while True:
            item = self._hash_queue.get()
            if item is _STOP:
                return
            if self._error is not None:
                continue
            buf, n = item
            try:
                offload(self.file_md5.update, memoryview(buf)[4:4 + n])
            except BaseException as e:      # reported to the reader through feed()/finish()
                self._fail(e)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._error is not None:
                continue
            num, buf = item
            try:
                offset = num * self.piece_size
                md5 = offload(_md5_and_write, self.writer, offset, buf, self._native_write)
                if not self._native_write:
                    self.writer.write_at(offset, buf)
                with self._lock:
                    self.md5s[num] = md5
                self.on_written(num, md5)
            except BaseException as e:      # reported to the reader through feed()/finish()
                self._fail(e)

    def _fail(self, e: BaseException) -> None:
        with self._lock:
            if self._error is None:
                self._error = e

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error


def _seal(piece_md5, content_len: int, fast=None) -> str:
    """The protocol md5 string of a streamed piece once its content is hashed: the tail closes it (and the
    fast digest, when kept); "" when the piece md5 is not computed here (``piece_md5`` None: lazy md5)."""
    if fast is not None:
        fast.update(pieces.TAIL)
    if piece_md5 is None:
        return ""
    piece_md5.update(pieces.TAIL)
    return f"{piece_md5.hexdigest()}:{content_len + pieces.WRAP_SIZE}"


def _hash_and_write(piece_md5, file_md5, writer, offset: int, block, native_write: bool, fast=None) -> None:
    """One block of a streamed piece: into the piece md5, the file md5 and the fast digest (each when kept),
    and to disk when ``native_write``."""
    if piece_md5 is not None:
        piece_md5.update(block)
    if file_md5 is not None:
        file_md5.update(block)
    if fast is not None:
        fast.update(block)
    if native_write:
        writer.write_at(offset, block)


class StreamingPieceSink(_Sink):
    """The :class:`PieceSink` contract for a source of known length, holding no piece in memory.

    Each block goes to its place in the task file at once (``header | content | tail`` of its piece), and
    into the piece's md5 and the file md5 on the way, in one native-thread step under gevent. A piece's
    header, which starts both the stored piece and its md5, needs the piece's content length, known in
    advance when the source length is (every piece is full but the last). A piece is reported the moment
    its tail is written. Bytes beyond the announced length are counted but not stored: the runner then
    fails the task on the length mismatch; so does a source that ends early (its last piece is never
    reported).

    With ``piece_md5=False`` (lazy md5, see :mod:`supernode.cdn.lazy_md5`) the pieces are hashed with the
    fast digest alone and reported with the md5 "" (computed from disk if a peer needs it); ``file_md5`` may
    be None (not computed on this path).
    """

    def __init__(self, writer, piece_size: int, start_piece: int, file_md5, on_written, length: int,
                 depth: int = 4, on_digest=None, piece_md5: bool = True):
        """``on_digest(piece_num, digest)``, when given, receives each piece's fast digest
        (:mod:`dfcommon.piece_digest`) just before ``on_written``: the same pass over the bytes computes it."""
        if length < 0:
            raise ValueError("StreamingPieceSink needs the source length")
        if not piece_md5 and on_digest is None:
            raise ValueError("a piece needs its md5 or its fast digest")
        super().__init__(writer, piece_size, start_piece, file_md5, on_written)
        self.length = length
        self.on_digest = on_digest
        self.piece_md5 = piece_md5
        self._fast = None           # fast digest of the piece being written (with on_digest)
        self._md5 = None            # md5 of the piece being written (None: none started, or lazy md5)
        self._started = False       # a piece is being written
        self._n = 0                 # content bytes of that piece
        self._fill = 0              # content bytes of it written so far
        self._steps = OrderedOffload(depth)     # hashing and writing, one native thread, in block order

    def feed(self, data) -> None:
        view = memoryview(data)
        self.bytes_fed += len(view)
        while len(view):
            if not self._started and not self._begin():
                return                                  # beyond the announced length: not stored
            n = min(self._n - self._fill, len(view))
            block, view = view[:n], view[n:]
            offset = self.next_piece * self.piece_size + 4 + self._fill
            self._steps.submit(_hash_and_write, self._md5, self.file_md5, self.writer, offset, block,
                               self._native_write, self._fast)
            if not self._native_write:
                self.writer.write_at(offset, block)
            self._fill += n
            if self._fill == self._n:
                self._end()

    def _begin(self, allow_empty: bool = False) -> bool:
        n = min(self.content_size, self.length - self.next_piece * self.content_size)
        if n <= 0 and not (allow_empty and n == 0):
            return False
        head = pieces.header(n, self.piece_size)
        self.writer.write_at(self.next_piece * self.piece_size, head)
        self._md5 = hashlib.md5(head) if self.piece_md5 else None
        self._n, self._fill, self._started = n, 0, True
        if self.on_digest is not None:
            self._fast = piece_digest.new_hasher()
            self._fast.update(head)
        return True

    def _end(self) -> None:
        num, n = self.next_piece, self._n
        self.writer.write_at(num * self.piece_size + 4 + n, pieces.TAIL)
        fast = self._fast
        self._steps.submit(_seal, self._md5, n, fast, then=lambda md5: self._written(num, md5, fast))
        self._md5, self._fast, self._started, self.next_piece = None, None, False, num + 1

    def _written(self, num: int, md5: str, fast) -> None:
        self.md5s[num] = md5
        if fast is not None:
            self.on_digest(num, piece_digest.encode(fast))
        self.on_written(num, md5)

    def finish(self, empty_piece: bool) -> dict[int, str]:
        """Write the single empty piece of an empty source when ``empty_piece``; return ``{piece: md5}``."""
        try:
            if empty_piece and not self._started and self.length == 0 and self._begin(allow_empty=True):
                self._end()
            self._steps.drain()
        finally:
            self._steps.close()             # its native thread ends with the download
        return self.md5s

    def close(self) -> None:
        """Wait for the blocks still being hashed and written (safe to call more than once)."""
        self._steps.close()
