"""One CDN run of one task: detect the cache, then a full hit, a resume or a fresh download.

The runner does the work; the manager owns the task state and turns the runner's reports into
listener calls. ``report`` is an object with ``piece(num, md5)``, ``success(file_len, real_md5,
source_len)`` and ``failure(reason, source_error)``.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field

from dfcommon import piece_digest, pieces
from dfcommon.offload import cooperate

from . import lazy_md5
from .layout import data_key, md5_key
from .metadata import FileMeta, MetaStore, now_ms
from .segmented import SegmentedFetch, SourceChanged
from .source import SourceClient, SourceStatusError, is_read_error, ms_of_http_date
from .types import SourceInfo, SourceRequest
from .writer import PieceSink, StreamingPieceSink

log = logging.getLogger(__name__)

FULL_HIT = -1


class Cancelled(Exception):
    pass


@dataclass
class RunContext:
    storage: object
    metas: MetaStore
    source: SourceClient
    bucket: object              # TokenBucket shared by every CDN download
    writers: int
    metrics: object = None
    source_streams: int = 1         # connections of one large download from the source (see segmented.py)
    source_chunk: int = 16 << 20    # bytes per Range request when there are several (rounded to whole pieces)
    downloads: "RunningCount" = field(default_factory=lambda: RunningCount())   # CDN downloads running now
    fast_digest: bool = False       # keep each piece's fast digest (dfcommon.piece_digest) while writing it
    lazy_md5: bool = False          # with fast_digest: no md5s while writing, computed when asked (lazy_md5.py)


def leading_run(kept) -> int:
    """How many pieces from piece 0 on are all in ``kept``."""
    n = 0
    while n in kept:
        n += 1
    return n


class RunningCount:
    """How many CDN downloads run now: extra connections are for a download that runs alone."""

    def __init__(self):
        self._lock = threading.Lock()
        self.value = 0

    def __enter__(self):
        with self._lock:
            self.value += 1
        return self

    def __exit__(self, *exc):
        with self._lock:
            self.value -= 1


class TaskRunner:
    def __init__(self, ctx: RunContext, req: SourceRequest, piece_size: int, source_length: int,
                 info: SourceInfo | None, report, cancel: threading.Event):
        self.ctx, self.req, self.report, self.cancel = ctx, req, report, cancel
        self.task_id = req.task_id
        self.piece_size = piece_size
        self.length = source_length
        self.supports_range = bool(info and info.supports_range)
        self.digests: dict[int, str] = {}           # fast digests of the pieces written or found by this run

    def _lazy(self) -> bool:
        """Whether this run hashes with the fast digest alone (the md5s come later, from disk, if asked for):
        ``lazy_md5`` and ``fast_digest`` on and a known length (the streaming sinks)."""
        return self.ctx.lazy_md5 and self.ctx.fast_digest and self.length >= 0

    # -- detection -------------------------------------------------------------------------------
    def _same_file(self, meta: FileMeta) -> bool:
        if meta.pieceSize != self.piece_size or meta.taskID != self.task_id or meta.url != self.req.task_url:
            return False
        if self.req.md5 or meta.md5:
            return meta.md5 == self.req.md5
        return meta.bizId == self.req.identifier

    def detect(self, meta: FileMeta | None) -> int:
        """-1 for a full hit, 0 for a fresh download, n > 0 to resume at piece n."""
        if meta is None or not self._same_file(meta):
            return 0
        self.ctx.metas.touch(self.task_id)
        if self.ctx.source.is_expired(self.req, meta.lastModified, meta.eTag):
            return 0
        if meta.finish:
            return FULL_HIT if meta.success else 0
        if not self.supports_range or self.length < 0:
            return 0
        return -2        # resume: the valid prefix is counted by the caller

    def complete_pieces(self, file_md5, lazy: bool = False) -> dict[int, str]:
        """``{piece: md5}`` of the pieces complete in the data file, but the last one (always fetched again);
        feeds the leading run of them to ``file_md5`` (when not None). ``lazy``: their fast digests instead
        (kept in ``digests``), and "" for each md5."""
        total = pieces.piece_total(self.length, self.piece_size)
        key, found, leading = data_key(self.task_id), {}, True
        for n in range(total - 1):
            _, size = pieces.source_span(n, self.piece_size, self.length)
            wrapped = self.ctx.storage.read_bytes(key, n * self.piece_size, size + pieces.WRAP_SIZE)
            if len(wrapped) != size + pieces.WRAP_SIZE or wrapped[:4] != pieces.header(size, self.piece_size) \
                    or wrapped[-1:] != pieces.TAIL:
                leading = False
                continue
            if leading and file_md5 is not None:
                file_md5.update(memoryview(wrapped)[4:-1])
            if lazy:
                self.digests[n] = piece_digest.of(wrapped)
                found[n] = ""
            else:
                found[n] = pieces.piece_md5(wrapped)
        return found

    # -- the run -----------------------------------------------------------------------------------
    def run(self) -> None:
        metas = self.ctx.metas
        meta = metas.read(self.task_id) if self.ctx.storage.exists(data_key(self.task_id)) else None
        mode = self.detect(meta)
        if mode == FULL_HIT and self.replay(meta):
            return
        lazy = self._lazy()
        # the whole-file md5 is computed on the way only when it is checked now (a registered md5) or when the
        # pieces get their md5s on the way too; otherwise it is computed from disk if a peer asks for it
        file_md5 = hashlib.md5() if (self.req.md5 or not lazy) else None
        kept: dict[int, str] = {}
        if mode == -2:
            kept = self.complete_pieces(file_md5, lazy)
            if not kept and file_md5 is not None:
                file_md5 = hashlib.md5()
        if not kept:
            self.fresh_meta()
        else:
            log.info("resuming cdn download task=%s pieces kept=%d from piece=%d", self.task_id, len(kept),
                     leading_run(kept))
            for n in sorted(kept):
                if n in self.digests:
                    self._digest(n, self.digests[n])
                self.report.piece(n, kept[n])
        self.download(file_md5, kept)

    def fresh_meta(self) -> None:
        self.ctx.storage.delete(md5_key(self.task_id))
        self.ctx.metas.write(FileMeta(taskID=self.task_id, url=self.req.task_url, pieceSize=self.piece_size,
                                      httpFileLen=self.length, bizId=self.req.identifier, md5=self.req.md5,
                                      accessTime=now_ms()))

    def replay(self, meta: FileMeta) -> bool:
        """Full hit: report every piece from the .md5 file (or the data file), then success."""
        total = pieces.piece_total(meta.httpFileLen, self.piece_size)
        try:
            size = self.ctx.storage.stat(data_key(self.task_id)).size
        except Exception:
            return False
        if size != meta.fileLength:
            return False
        stored = self.ctx.metas.read_md5s(self.task_id)
        # a lazy task's .md5 file keeps fast digests and maybe no file md5: this run takes it as it is when it
        # is lazy too (and the fast digests are on), else it computes the md5s (checked against those digests)
        lazy_lines = stored is not None and (not stored[1] or any(lazy_md5.is_digest(x) for x in stored[0]))
        usable = lazy_lines and self.ctx.lazy_md5 and self.ctx.fast_digest
        if stored is None or len(stored[0]) != total or stored[1] != meta.realMd5 or (lazy_lines and not usable):
            md5s, real_md5 = self.rehash(meta, total, stored[0] if stored is not None else [])
            if md5s is None:
                return False
            if real_md5 != meta.realMd5:
                self.ctx.metas.update(self.task_id, realMd5=real_md5)
                meta.realMd5 = real_md5
            self.ctx.metas.write_md5s(self.task_id, md5s, meta.realMd5)
        else:
            md5s = stored[0]
        log.info("cdn full cache hit task=%s pieces=%d", self.task_id, total)
        if self.ctx.metrics is not None:
            self.ctx.metrics.cdn_cache_hit.inc()
        for n, md5 in enumerate(md5s):
            if lazy_md5.is_digest(md5):
                self._digest(n, md5)
                md5 = ""
            self.report.piece(n, md5)
        self.report.success(meta.fileLength, meta.realMd5, meta.httpFileLen)
        return True

    def rehash(self, meta: FileMeta, total: int, lines: list[str]) -> tuple[list[str] | None, str]:
        """(piece md5s, file md5) from the data file. The file md5 must match the recorded one; a lazy task
        recorded none, and its pieces must match the fast digests its .md5 file kept (``lines``)."""
        file_md5, md5s, key = hashlib.md5(), [], data_key(self.task_id)
        for n in range(total):
            _, size = pieces.source_span(n, self.piece_size, max(meta.httpFileLen, 0))
            wrapped = self.ctx.storage.read_bytes(key, n * self.piece_size, size + pieces.WRAP_SIZE)
            try:
                file_md5.update(pieces.unwrap(wrapped))
            except ValueError:
                return None, ""
            line = lines[n] if n < len(lines) else ""
            if lazy_md5.is_digest(line) and piece_digest.of(wrapped) != line:
                return None, ""
            md5s.append(pieces.piece_md5(wrapped))
        real = file_md5.hexdigest()
        if meta.realMd5:
            return (md5s, real) if real == meta.realMd5 else (None, "")
        if len(lines) != total or not all(lazy_md5.is_digest(x) for x in lines):
            return None, ""             # nothing recorded to check the bytes against
        return md5s, real

    def _chunk_pieces(self) -> int:
        return max(1, self.ctx.source_chunk // pieces.content_size(self.piece_size))

    def _segmented(self, start: int, gaps: bool) -> bool:
        """Chunked Range requests: the source takes ranges, the length is known, and either the store holds
        pieces after a missing one (only the missing ones are fetched) or several connections are set and the
        rest spans two chunks or more."""
        if not (self.supports_range and self.length >= 0):
            return False
        chunk = self._chunk_pieces() * pieces.content_size(self.piece_size)
        return gaps or (self.ctx.source_streams > 1 and self.length - start > chunk)

    def download(self, file_md5, kept: dict[int, str]) -> None:
        ctx, m = self.ctx, self.ctx.metrics
        start_piece = leading_run(kept)
        start = start_piece * pieces.content_size(self.piece_size)
        if m is not None:
            m.cdn_download.inc()
        with ctx.downloads:
            if self._segmented(start, gaps=len(kept) > start_piece):
                return self.download_segmented(start, start_piece, file_md5, kept)
            return self.download_single(start, start_piece, file_md5, kept)

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()

    def _on_block(self, n: int) -> None:
        """Every block read from the source: the shared bandwidth limit, the metric, a turn for the hub."""
        self.ctx.bucket.acquire(n)
        if self.ctx.metrics is not None:
            self.ctx.metrics.cdn_download_size.inc(n)
        cooperate()                 # a fast source never blocks the read: let the hub serve peers

    def _read_failed(self, e: BaseException) -> bool:
        """Report a source read cut off mid-body (the task may resume later); False for any other error."""
        if not is_read_error(e):
            return False
        log.warning("cdn download interrupted task=%s err=%s", self.task_id, type(e).__name__)
        self.report.failure(f"source read error: {type(e).__name__}", False)
        return True

    def _on_digest(self):
        """Where a written piece's fast digest goes, or None when the supernode keeps none."""
        return self._digest if self.ctx.fast_digest else None

    def _digest(self, num: int, value: str) -> None:
        self.digests[num] = value
        report = getattr(self.report, "digest", None)
        if report is not None:
            report(num, value)

    def download_single(self, start: int, start_piece: int, file_md5, kept: dict[int, str]) -> None:
        ctx = self.ctx
        try:
            resp = ctx.source.download(self.req, start, self.length)
        except SourceStatusError as e:
            return self.report.failure(str(e), True)
        except Exception as e:
            if is_read_error(e):
                return self.report.failure(f"source error: {type(e).__name__}", False)
            raise
        writer = ctx.storage.open_writer(data_key(self.task_id), truncate=start_piece == 0)
        ctx.metas.update(self.task_id, lastModified=ms_of_http_date(resp.headers.get("Last-Modified")),
                         eTag=resp.headers.get("ETag", ""))
        if self.length >= 0:        # known length: blocks go straight to disk, no piece is held in memory
            sink = StreamingPieceSink(writer, self.piece_size, start_piece, file_md5, self.report.piece, self.length,
                                      on_digest=self._on_digest(), piece_md5=not self._lazy())
        else:
            sink = PieceSink(writer, self.piece_size, start_piece, ctx.writers, file_md5, self.report.piece)
        try:
            for block in ctx.source.body(resp):
                self._check_cancel()
                self._on_block(len(block))
                sink.feed(block)
            written = sink.finish(empty_piece=start == 0 and sink.bytes_fed == 0)
        except Exception as e:
            sink.close()
            writer.close()
            if isinstance(e, Cancelled) or not self._read_failed(e):
                raise
            return
        writer.close()
        self.finish(start + sink.bytes_fed, file_md5.hexdigest() if file_md5 is not None else "", kept, written)

    def _validators_seen(self, etag: str, last_modified: str) -> None:
        """The origin's validators, in the meta from the first chunk on: a run cut off can then be resumed."""
        self.ctx.metas.update(self.task_id, lastModified=ms_of_http_date(last_modified or None), eTag=etag)

    def download_segmented(self, start: int, start_piece: int, file_md5, kept: dict[int, str]) -> None:
        ctx = self.ctx
        writer = ctx.storage.open_writer(data_key(self.task_id), truncate=not kept)
        fetch = SegmentedFetch(ctx.source, self.req, ctx.storage, writer, self.piece_size, self.length, start_piece,
                               file_md5, self.report.piece, ctx.source_streams, self._chunk_pieces(),
                               self._check_cancel, self._on_block, alone=lambda: ctx.downloads.value <= 1,
                               on_digest=self._on_digest(), piece_md5=not self._lazy(), have=set(kept),
                               on_validators=self._validators_seen)
        log.info("cdn download task=%s streams=%d chunks=%d", self.task_id, fetch.streams, len(fetch.chunks))
        try:
            written = fetch.run()
        except SourceStatusError as e:
            return self.report.failure(str(e), True)
        except SourceChanged as e:
            log.warning("cdn download failed task=%s reason=%s", self.task_id, e)
            return self.report.failure(str(e), False)
        except Exception as e:
            if not self._read_failed(e):
                raise
            return
        finally:
            writer.close()
        self.finish(start + fetch.bytes_fed + fetch.bytes_kept, file_md5.hexdigest() if file_md5 is not None else "",
                    kept, written)

    def finish(self, total_read: int, real_md5: str, kept: dict[int, str], written: dict[int, str]) -> None:
        file_length = pieces.wrapped_length(total_read, self.piece_size)
        reason = ""
        if self.req.md5 and self.req.md5 != real_md5:
            reason = f"md5 mismatch: expected {self.req.md5}, got {real_md5}"
        elif self.length >= 0 and total_read != self.length:
            reason = f"length mismatch: expected {self.length}, read {total_read}"
        self.ctx.metas.update(self.task_id, finish=True, success=not reason, realMd5=real_md5,
                              fileLength=file_length, httpFileLen=total_read if not reason else self.length,
                              accessTime=now_ms())
        if reason:
            log.warning("cdn download failed task=%s reason=%s", self.task_id, reason)
            return self.report.failure(reason, False)
        md5s = [kept[n] if n in kept else written[n] for n in range(len(kept) + len(written))]
        # a lazy run keeps each piece's fast digest where its md5 is not known (see lazy_md5.py)
        lines = [md5 or self.digests.get(n, "") for n, md5 in enumerate(md5s)]
        self.ctx.metas.write_md5s(self.task_id, lines, real_md5)
        log.info("cdn download done task=%s bytes=%d pieces=%d", self.task_id, total_read, len(md5s))
        self.report.success(file_length, real_md5, total_read)
