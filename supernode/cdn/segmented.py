"""Back-to-source over several connections: a large file fetched in chunks of whole pieces, a few at once.

One TCP flow from the origin does not keep the origin's link full when the receiver is busy: every stall of the
reader (a busy hub, a contended core) or of the flow itself (a congestion-control probe, a loss) idles the link
until the flow recovers. Several flows cover for each other. The file is cut into chunks of ``chunk_pieces``
whole pieces; ``streams`` workers each take the next chunk in file order, fetch it with a ``Range`` request and
write its pieces at their places, hashed on the way like a single stream (:class:`StreamingPieceSink`). Each
piece is reported the moment it is written, so peers start on it at once, in whatever order chunks arrive.
The extra workers only take a chunk while the download runs alone (``alone()``): when several CDN downloads run
(an image's layers), their flows already cover for each other, and more would only cost CPU.

The origin still sends each byte once: the chunks do not overlap. Every chunk must come back as ``206`` for the
asked range with the ETag and Last-Modified of the first one (a file that changes mid-download fails the run
instead of mixing two versions). The whole-file md5 needs the bytes in file order, so a hasher follows the
chunks as they complete, reading each back from the store (it is still in the page cache).

A resumed download (an interrupted run, or a cluster member taking the fetch over) names the pieces the store
already holds (``have``): the chunks cover only the missing ones, and the hasher reads the held ones in their
place. The origin's validators are handed to ``on_validators`` as soon as the first chunk answers, so the meta
names them while the download runs: a run that dies mid-download leaves a copy that can be resumed.
"""
from __future__ import annotations

import logging
import threading

from dfcommon import pieces
from dfcommon.offload import offload

from .layout import data_key
from .source import SourceStatusError
from .writer import StreamingPieceSink

log = logging.getLogger(__name__)


class SourceChanged(Exception):
    """A chunk came from another version of the file than the first one."""


def plan_chunks(length: int, piece_size: int, start_piece: int, chunk_pieces: int,
                have=frozenset()) -> list[tuple[int, int]]:
    """[(first piece, end piece)) of the chunks that cover every piece from ``start_piece`` to the end of a
    ``length``-byte source that is not in ``have``: runs of missing pieces, cut every ``chunk_pieces``."""
    total = pieces.piece_total(length, piece_size)
    step = max(1, chunk_pieces)
    chunks, p = [], start_piece
    while p < total:
        if p in have:
            p += 1
            continue
        end = p + 1
        while end < total and end - p < step and end not in have:
            end += 1
        chunks.append((p, end))
        p = end
    return chunks


class SegmentedFetch:
    """Fetch ``[start_piece, end)`` of a known-length source into ``writer`` with ``streams`` connections,
    but for the pieces in ``have``, which the store holds already.

    ``run()`` returns ``{piece: md5}`` of the pieces written and leaves the file md5 of all the bytes (after any
    prefix already fed to ``file_md5``, the held pieces included) in ``file_md5``; ``bytes_fed`` counts the bytes
    fetched, ``bytes_kept`` those of the held pieces. ``check_cancel()`` raises to stop the run;
    ``on_block(n)`` is called for every block read (bandwidth limit and metrics)."""

    def __init__(self, source, req, storage, writer, piece_size: int, length: int, start_piece: int, file_md5,
                 on_written, streams: int, chunk_pieces: int, check_cancel, on_block, alone=lambda: True,
                 on_digest=None, piece_md5: bool = True, have=frozenset(), on_validators=None):
        self.source, self.req, self.storage, self.writer = source, req, storage, writer
        self.piece_size, self.length = piece_size, length
        self.content_size = pieces.content_size(piece_size)
        self.file_md5, self.on_written, self.on_digest = file_md5, on_written, on_digest
        self.piece_md5 = piece_md5          # False: lazy md5 (fast digest only); file_md5 None: no file md5
        self.check_cancel, self.on_block, self.alone = check_cancel, on_block, alone
        self.start_piece, self.have = start_piece, frozenset(p for p in have if p >= start_piece)
        self.chunks = plan_chunks(length, piece_size, start_piece, chunk_pieces, self.have)
        self.streams = max(1, min(streams, len(self.chunks)))
        self.on_validators = on_validators      # on_validators(etag, last_modified) once, at the first chunk
        self.written: dict[int, str] = {}
        self.bytes_fed = 0
        self.bytes_kept = sum(self._size(p) for p in self.have)
        self.validators: tuple[str, str] | None = None      # (ETag, Last-Modified) of the first chunk
        self._cond = threading.Condition()
        self._next = 0              # the next chunk to hand out
        self._done: set[int] = set()
        self._error: BaseException | None = None

    def _size(self, piece: int) -> int:
        return min(self.content_size, self.length - piece * self.content_size)

    # -- the run ------------------------------------------------------------------------------------
    def run(self) -> dict[int, str]:
        workers = [threading.Thread(target=self._work, args=(i,), name=f"cdn-stream-{i}", daemon=True)
                   for i in range(self.streams)]
        if self.file_md5 is not None:
            workers.append(threading.Thread(target=self._hash, name="cdn-file-md5", daemon=True))
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        if self._error is not None:
            raise self._error
        return self.written

    def _fail(self, e: BaseException) -> None:
        with self._cond:
            if self._error is None:
                self._error = e
            self._cond.notify_all()

    def _take(self, worker: int) -> int | None:
        if worker > 0 and not self.alone():
            return None                     # other downloads run: the first worker fetches the rest
        with self._cond:
            if self._error is not None or self._next >= len(self.chunks):
                return None
            i, self._next = self._next, self._next + 1
            return i

    def _work(self, worker: int) -> None:
        while True:
            i = self._take(worker)
            if i is None:
                return
            try:
                self._fetch(i)
            except BaseException as e:      # noqa: BLE001 - ends the run; run() raises it
                self._fail(e)
                return
            with self._cond:
                self._done.add(i)
                self._cond.notify_all()

    def _fetch(self, i: int) -> None:
        first, end = self.chunks[i]
        start = first * self.content_size
        stop = min(end * self.content_size, self.length)
        resp = self.source.download_range(self.req, start, stop)
        self._check_validators(resp, i)
        sink = StreamingPieceSink(self.writer, self.piece_size, first, None, self.on_written, stop,   # file md5: _hash
                                  on_digest=self.on_digest, piece_md5=self.piece_md5)
        fed = 0
        try:
            for block in self.source.body(resp):
                self.check_cancel()
                if self._error is not None:
                    return
                self.on_block(len(block))
                sink.feed(block)
                fed += len(block)
            written = sink.finish(empty_piece=False)
        finally:
            sink.close()
            resp.close()
        if fed != stop - start:
            raise SourceStatusError(206, f"source sent {fed} bytes for the range {start}-{stop - 1}, "
                                         f"expected {stop - start}")
        with self._cond:
            self.written.update(written)
            self.bytes_fed += fed

    def _check_validators(self, resp, i: int) -> None:
        seen = (resp.headers.get("ETag", ""), resp.headers.get("Last-Modified", ""))
        with self._cond:
            first = self.validators is None
            if first:
                self.validators = seen
            expected = self.validators
        if first:
            if self.on_validators is not None:
                self.on_validators(*seen)
            return
        if seen != expected:
            resp.close()
            raise SourceChanged(f"the source changed during the download (chunk {i}: ETag {seen[0]!r}, "
                                f"Last-Modified {seen[1]!r}; first chunk: {expected[0]!r}, {expected[1]!r})")

    # -- the file md5, in file order --------------------------------------------------------------
    def _hash(self) -> None:
        key = data_key(self.req.task_id)
        chunk_of = {n: i for i, (first, end) in enumerate(self.chunks) for n in range(first, end)}
        for n in range(self.start_piece, pieces.piece_total(self.length, self.piece_size)):
            i = chunk_of.get(n)
            with self._cond:
                while i is not None and i not in self._done and self._error is None:
                    self._cond.wait(1.0)
                if self._error is not None:
                    return
            try:
                size, got = self._size(n), 0
                for block in self.storage.read(key, n * self.piece_size + 4, size):   # a block at a time
                    offload(self.file_md5.update, block)
                    got += len(block)
                if got != size:
                    raise OSError(f"piece {n} of task {self.req.task_id} reads back {got} of {size} bytes")
            except BaseException as e:      # noqa: BLE001 - ends the run; run() raises it
                self._fail(e)
                return
