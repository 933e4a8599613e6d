"""CdnManager: the :class:`~supernode.cdn.types.Cdn` implementation (local and source patterns).

It owns the per-task state (status, piece md5s), the single-flight rule, the source-unreachable
cache and the one TokenBucket shared by every back-to-source download; :mod:`.runner` does the
work of one run in its own thread (a greenlet when gevent has patched threading).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from dfcommon import piece_digest
from dfcommon.errors import DfError
from dfcommon.offload import offload
from dfcommon.ratelimit import TokenBucket

from . import lazy_md5
from . import types as T
from .gc import DiskGc
from .layout import check_task_id, data_key, download_path, md5_key, meta_key
from .metadata import MetaStore
from .runner import Cancelled, RunContext, TaskRunner
from .source import SourceClient
from .verify import read_piece, verify_piece

log = logging.getLogger(__name__)


@dataclass
class _Task:
    task_id: str
    status: str = T.WAITING
    raw_url: str = ""
    piece_size: int = 0
    pieces: dict = field(default_factory=dict)
    digests: dict = field(default_factory=dict)     # piece -> fast digest, kept while writing (fast_digest)
    file_md5: str = ""                              # whole-file md5 once known (lazy md5: once computed)
    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class _Report:
    """Turns a runner's reports into task state and listener calls (a listener error never fails a run)."""

    def __init__(self, mgr: "CdnManager", task: _Task):
        self.mgr, self.task = mgr, task

    def _live(self) -> bool:
        return not self.task.cancel.is_set()

    def piece(self, num: int, md5: str) -> None:
        self.task.pieces[num] = md5
        if self._live():
            self.mgr._notify("on_piece", self.task.task_id, num, md5)

    def digest(self, num: int, value: str) -> None:
        self.task.digests[num] = value

    def success(self, file_length: int, real_md5: str, source_length: int) -> None:
        self.task.file_md5 = real_md5
        self.task.status = T.SUCCESS
        if self._live():
            self.mgr._notify("on_success", self.task.task_id, file_length, real_md5, source_length)

    def failure(self, reason: str, source_error: bool) -> None:
        self.task.status = T.SOURCE_ERROR if source_error else T.FAILED
        m = self.mgr.metrics
        if m is not None:
            m.cdn_download_failed.inc()
            m.cdn_trigger_failed.inc()
        if self._live():
            self.mgr._notify("on_failure", self.task.task_id, reason, source_error)


class CdnManager:
    def __init__(self, config, storage, metrics=None, listener=None, session_factory=None, free_space=None):
        self.config = config
        self.storage = storage
        self.metrics = metrics
        self.listener = listener
        self.metas = MetaStore(storage)
        if session_factory is None:             # sources are fetched for clients: through the fetch policy
            from supernode.fetch_guard import build_policy, guarded_session_factory
            self.fetch_policy = build_policy(config, metrics)
            session_factory = guarded_session_factory(self.fetch_policy)
        else:
            self.fetch_policy = None
        self.source = SourceClient(config.source_connect_timeout, config.source_read_timeout, session_factory)
        # max_bandwidth 0 (the default) = the back-to-source read is not capped
        self.bucket = TokenBucket(config.max_bandwidth - config.system_bandwidth if config.max_bandwidth > 0 else 0,
                                  "supernode max_bandwidth - system_bandwidth")
        self.ctx = RunContext(storage, self.metas, self.source, self.bucket, max(1, config.cdn_writers), metrics,
                              source_streams=config.source_streams, source_chunk=config.source_chunk,
                              fast_digest=bool(getattr(config, "fast_digest", False)))
        self.gc = DiskGc(storage, self.metas, config, metrics, delete=self._gc_delete, free_space=free_space)
        self._lock = threading.Lock()
        self._tasks: dict[str, _Task] = {}
        self._probed: dict[str, T.SourceInfo] = {}
        self._unreachable: dict[str, float] = {}
        self._md5_locks: dict[str, threading.Lock] = {}     # one lazy whole-file md5 at a time per task

    @property
    def lazy_md5(self) -> bool:
        """Whether the CDN writes pieces with the fast digest alone and computes the protocol's md5s from
        disk when a peer needs them (:mod:`.lazy_md5`). Off unless the composition root turns it on, which it
        does with ``fast_digest`` when the piece entries pass through :class:`supernode.piece_digests.DigestExtras`
        (the hook that fills them in)."""
        return self.ctx.lazy_md5

    @lazy_md5.setter
    def lazy_md5(self, on: bool) -> None:
        self.ctx.lazy_md5 = bool(on) and self.ctx.fast_digest and self.config.cdn_pattern != "source"

    def set_listener(self, listener) -> None:
        self.listener = listener

    def _notify(self, method: str, *args) -> None:
        listener = self.listener
        if listener is None:
            return
        try:
            getattr(listener, method)(*args)
        except Exception:
            log.exception("cdn listener %s failed task=%s", method, args[0])

    # -- probe -------------------------------------------------------------------------------------
    def probe(self, req: T.SourceRequest) -> T.SourceInfo:
        cap = getattr(self.config, "max_source_downloads", 0)
        if cap and req.task_id not in self._tasks and len(self.running()) >= cap:   # a new task: a new download
            if self.metrics is not None and hasattr(self.metrics, "limit_refused"):
                self.metrics.limit_refused.labels("source_downloads").inc()
            raise DfError("UNAVAILABLE", f"{cap} back-to-source downloads are running (max_source_downloads): "
                                         f"retry later")
        until = self._unreachable.get(req.task_id)
        if until is not None:
            if time.monotonic() < until:
                raise DfError("URL_NOT_REACHABLE", f"source of task {req.task_id} was not found recently")
            self._unreachable.pop(req.task_id, None)
        try:
            info = self.source.probe(req)
        except DfError as e:
            if e.code == "URL_NOT_REACHABLE":
                self._unreachable[req.task_id] = time.monotonic() + self.config.fail_access_interval
            raise
        self._probed[req.task_id] = info
        return info

    # -- trigger -----------------------------------------------------------------------------------
    def trigger(self, req: T.SourceRequest, piece_size: int, source_length: int) -> None:
        check_task_id(req.task_id)
        with self._lock:
            old = self._tasks.get(req.task_id)
            if old is not None and old.status in (T.RUNNING, T.SUCCESS):
                return
            task = _Task(req.task_id, T.RUNNING, req.raw_url, piece_size)
            self._tasks[req.task_id] = task
            previous = old.thread if old is not None else None
            task.thread = threading.Thread(target=self._run, args=(task, req, source_length, previous),
                                           name=f"cdn-{req.task_id[:8]}", daemon=True)
        if self.metrics is not None:
            self.metrics.cdn_trigger.inc()
        log.info("cdn trigger task=%s pattern=%s", req.task_id, self.config.cdn_pattern)
        task.thread.start()

    def _run(self, task: _Task, req: T.SourceRequest, source_length: int, previous) -> None:
        report = _Report(self, task)
        try:
            if previous is not None:
                previous.join()             # a cancelled run of the same task must be gone first
            info = self._probed.get(req.task_id)
            if info is None:
                info = self.probe(req)
            if source_length < 0:
                source_length = info.length
            if self.config.cdn_pattern == "source":
                self._run_source(task, info, source_length, report)
            else:
                TaskRunner(self.ctx, req, task.piece_size, source_length, info, report, task.cancel).run()
        except Cancelled:
            log.info("cdn run cancelled task=%s", task.task_id)
        except DfError as e:
            report.failure(e.message, e.code in ("URL_NOT_REACHABLE", "SOURCE_AUTH"))
        except Exception as e:
            log.exception("cdn run failed task=%s", task.task_id)
            report.failure(f"cdn error: {type(e).__name__}", False)
        finally:
            if task.status == T.RUNNING:        # a run must always end in a final state
                task.status = T.FAILED

    def _run_source(self, task: _Task, info: T.SourceInfo, length: int, report: _Report) -> None:
        """Source pattern: no download; peers take ranges straight from the source."""
        if length < 0 or not info.supports_range:
            return report.failure("source pattern needs a known length and range support", False)
        total = (length + task.piece_size - 1) // task.piece_size
        for n in range(total):
            report.piece(n, "")
        report.success(length, "", length)

    # -- queries -----------------------------------------------------------------------------------
    def status(self, task_id: str) -> str:
        task = self._tasks.get(task_id)
        return task.status if task is not None else T.WAITING

    def piece_md5(self, task_id: str, piece_num: int) -> str | None:
        task = self._tasks.get(task_id)
        return task.pieces.get(piece_num) if task is not None else None

    def piece_digest(self, task_id: str, piece_num: int) -> str | None:
        """The fast digest of a piece this process wrote (None: not kept, e.g. after a restart or with
        ``fast_digest`` off; the piece is then checked with its md5)."""
        task = self._tasks.get(task_id)
        return task.digests.get(piece_num) if task is not None else None

    def ensure_piece_md5(self, task_id: str, piece_num: int) -> str:
        """The protocol md5 of a written piece: as recorded, or (lazy md5) computed from the stored piece now,
        checked against its kept fast digest, and remembered. "" when the piece is not written here, or is
        missing or broken on disk; a piece that no longer matches its fast digest is a corrupt task, collected
        as :meth:`check_piece` does."""
        if self.config.cdn_pattern == "source":
            return ""
        task = self._tasks.get(task_id)
        if task is None or piece_num not in task.pieces or not task.piece_size:
            return (task.pieces.get(piece_num) if task is not None else None) or ""
        known = task.pieces.get(piece_num)
        if known:
            return known
        try:
            md5 = offload(lazy_md5.piece_hashes, self.storage, task_id, piece_num, task.piece_size,
                          task.digests.get(piece_num, ""))
        except lazy_md5.Corrupt as e:
            log.warning("bad cdn piece, collecting task task=%s piece=%d: %s", task_id, piece_num, e)
            self.delete(task_id, full=True)
            return ""
        if md5 is None:
            log.warning("cdn piece missing or broken task=%s piece=%d", task_id, piece_num)
            return ""
        task.pieces[piece_num] = md5
        return md5

    def ensure_file_md5(self, task_id: str) -> str:
        """The whole-file md5 of a cached task: as recorded, or (lazy md5) computed from the stored pieces
        now, each checked against its kept fast digest, then recorded in the task's .md5 and .meta files.
        "" when the task is not cached successfully here (or is corrupt: it is then collected)."""
        if self.config.cdn_pattern == "source":
            return ""
        task = self._tasks.get(task_id)
        if task is not None and task.file_md5:
            return task.file_md5
        if task is None or task.status != T.SUCCESS:
            return ""
        with self._lock:
            lock = self._md5_locks.setdefault(task_id, threading.Lock())
        with lock:
            if task.file_md5:
                return task.file_md5
            meta = self.metas.read(task_id)
            if meta is None or not meta.success:
                return ""
            if meta.realMd5:
                task.file_md5 = meta.realMd5
                return meta.realMd5
            try:
                md5 = offload(lazy_md5.file_md5, self.storage, task_id, meta.pieceSize, meta.httpFileLen,
                              dict(task.digests))
            except lazy_md5.Corrupt as e:
                log.warning("bad cdn piece, collecting task task=%s: %s", task_id, e)
                self.delete(task_id, full=True)
                return ""
            if md5 is None:
                return ""
            stored = self.metas.read_md5s(task_id)
            if stored is not None:
                self.metas.write_md5s(task_id, stored[0], md5)      # first: the .meta's realMd5 is the anchor
            self.metas.update(task_id, realMd5=md5)
            task.file_md5 = md5
        with self._lock:
            self._md5_locks.pop(task_id, None)
        log.info("cdn whole-file md5 computed task=%s", task_id)
        return md5

    def piece_path(self, task_id: str, raw_url: str = "") -> str:
        if self.config.cdn_pattern == "source":
            task = self._tasks.get(task_id)
            return raw_url or (task.raw_url if task is not None else "")
        return download_path(task_id)

    def check_piece(self, task_id: str, piece_num: int, expected_md5: str) -> bool:
        if self.config.cdn_pattern == "source":
            return True
        check_task_id(task_id)
        task = self._tasks.get(task_id)
        known = task.pieces.get(piece_num) if task is not None else None
        piece_size = task.piece_size if task is not None else 0
        if known is None or not piece_size:
            meta = self.metas.read(task_id)
            piece_size = piece_size or (meta.pieceSize if meta is not None else 0)
            stored = self.metas.read_md5s(task_id)
            if known is None and stored is not None and piece_num < len(stored[0]):
                known = stored[0][piece_num]
        digest = task.digests.get(piece_num, "") if task is not None else ""
        if known and lazy_md5.is_digest(known):     # a lazy task's .md5 file keeps fast digests
            known, digest = None, known
        if not known and digest and piece_size:     # lazy md5: the piece is judged by its kept fast digest
            wrapped = read_piece(self.storage, task_id, piece_num, piece_size)
            ok = wrapped is not None and piece_digest.of(wrapped) == digest
        else:
            ok = verify_piece(self.storage, task_id, piece_num, piece_size, known, expected_md5)
        if not ok:
            log.warning("bad cdn piece, collecting task task=%s piece=%d", task_id, piece_num)
            self.delete(task_id, full=True)
        return ok

    def touch(self, task_id: str) -> None:
        """Record an access to a cached task (its .meta accessTime/interval drive the young disk GC)."""
        if self.config.cdn_pattern != "source":
            self.metas.touch(check_task_id(task_id))

    # -- removal -----------------------------------------------------------------------------------
    def delete(self, task_id: str, full: bool) -> None:
        with self._lock:
            task = self._tasks.pop(task_id, None)
        if task is not None:
            task.cancel.set()
        self._probed.pop(task_id, None)
        if full:
            for key in (data_key(task_id), meta_key(task_id), md5_key(task_id)):
                self.storage.delete(key)

    def _gc_delete(self, task_id: str) -> None:
        self.delete(task_id, full=True)

    def running(self) -> set[str]:
        return {tid for tid, t in list(self._tasks.items()) if t.status == T.RUNNING}

    def disk_gc(self, in_use: set[str]) -> int:
        return self.gc.run(set(in_use) | self.running())
