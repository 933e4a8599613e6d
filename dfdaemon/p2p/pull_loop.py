"""The P2P pull loop: ask the supernode for piece tasks, fetch them in parallel, report results.

Every finished piece is reported at once with its own ``/peer/task`` call, whose reply
hands out the next pieces while the others are still in flight, so the pipeline never
runs dry waiting for a batch. Pieces of one reply start lowest first, so an in-order
stream gets its first bytes as early as possible. 602 backs off randomly (50-100 ms doubling
to 800-1600 ms) or until a piece lands; before the first piece (the CDN is still starting,
and a streaming client waits for its first byte) the first waits are shorter (12-25 ms
doubling into the same schedule). A 602 that took ``HELD`` seconds or more was held by the
supernode until it had news (our supernode's ``pull_hold``): the loop asks again at once. 600 ends the loop; 610 is a source error; any other code or an
HTTP failure migrates to the next supernode.

A written piece is reported in the loop's next ``/peer/task`` call. Dragonfly's protocol reports it
as 503 there and again with ``/peer/piece/suc``, which is what makes the peer a source of it. When the
supernode's registration says ``reportInPull`` (ours does), the ``/peer/task`` report carries 501,
which does both, and ``/peer/piece/suc`` is sent only when no ``/peer/task`` call has carried the
report within ``REPORT_GRACE`` (the loop is inside a call, which a held 602 can make long): one
request per piece fewer on both sides.
"""
from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from . import result as R
from .piece_fetcher import PieceError, PieceFetcher
from .piece_writer import DataFile, piece_offset
from .register import Registrar, RegisterFailed, Registration
from .result import BackSourceReason, Cancelled, DownloadError, ErrorCode
from .stream import Progress
from .supernode_client import PieceTask, SupernodeClient, SupernodeError

log = logging.getLogger(__name__)

OK_CODES = (R.CODE_PEER_FINISH, R.CODE_PEER_CONTINUE, R.CODE_PEER_WAIT, R.CODE_PEER_LIMITED, R.CODE_SUCCESS)
BACKOFF_START = (0.05, 0.1)
BACKOFF_COLD = (0.0125, 0.025)      # until the first piece task arrives
BACKOFF_MAX = (0.8, 1.6)
POLL = 1.0
HELD = 0.25         # a 602 that took this long was held by the supernode (pull_hold): ask again at once
REPORT_GRACE = 0.01     # with reportInPull: wait this long for a /peer/task call to carry a piece's report
MIGRATION_PAUSES = (0.5, 1.0, 2.0, 4.0)     # a migration that found no supernode walks the list again after each


@dataclass
class PullRequest:
    status: int = R.STATUS_STARTED
    range: str = ""
    result: int = R.RESULT_INVALID
    dst_cid: str = ""


@dataclass
class Outcome:
    task: PieceTask
    result: int
    generation: int
    length: int = 0
    error: PieceError | None = None
    carried: threading.Event = field(default_factory=threading.Event)    # a /peer/task call reports it


REPORTED = (R.RESULT_SEMISUC, R.RESULT_SUC)
SUPERNODE_CID_PREFIX = "cdnnode:"       # the supernode's own client id in a piece task (Dragonfly 1.x)


@dataclass
class Finish:
    md5: str
    length: int


class _Either:
    """``is_set()`` of two events, for fetchers that stop on cancel or on the loop's end."""

    def __init__(self, a: threading.Event, b: threading.Event):
        self.a, self.b = a, b

    def is_set(self) -> bool:
        return self.a.is_set() or self.b.is_set()


class Backoff:
    """Randomized doubling wait for 602 replies."""

    def __init__(self, rng=random, start=BACKOFF_START):
        self.rng = rng
        self.lo, self.hi = start

    def next(self) -> float:
        wait = self.rng.uniform(self.lo, self.hi)
        self.lo, self.hi = min(self.lo * 2, BACKOFF_MAX[0]), min(self.hi * 2, BACKOFF_MAX[1])
        return wait

    def reset(self) -> None:
        self.lo, self.hi = BACKOFF_START


class PullLoop:
    def __init__(self, client: SupernodeClient, registrar: Registrar, make_request, reg: Registration,
                 fetcher: PieceFetcher, data: DataFile, progress: Progress, cid: str, deadline: float,
                 cancelled: threading.Event, console=None, on_new_pieces=None, max_running: int = 6,
                 rng=random, on_registered=None):
        self.client, self.registrar, self.make_request = client, registrar, make_request
        self.reg, self.fetcher, self.data, self.progress = reg, fetcher, data, progress
        self.cid, self.deadline, self.cancelled = cid, deadline, cancelled
        self.console = console or (lambda line: None)
        self.on_new_pieces = on_new_pieces or (lambda: None)
        self.on_registered = on_registered or (lambda reg: None)     # after a migration's registration
        self.rng = rng
        self.results: queue.Queue = queue.Queue()
        self.pending: deque = deque()
        self.running: dict[str, threading.Thread] = {}
        self.done: dict[str, PieceTask] = {}
        self.slots = threading.BoundedSemaphore(max(1, max_running))
        self.generation = 0
        self.end_offset = 0
        self.pieces_from_peers = 0
        self.bytes_from = {"peers": 0, "supernode": 0}   # bytes written, by who served them
        self.unchecked_pieces = 0             # pieces that came without an md5 to check them against
        self.checked = {"xxh3-128": 0, "md5": 0}      # pieces checked, by digest
        self.stalled = 0                      # piece fetches dropped because the source went silent
        self._lock = threading.Lock()
        self._stopped = threading.Event()     # set when run() returns: late fetchers stop and stay silent
        self._leaving = threading.Event()     # set while migrating: reports to the old node are dropped
        self.separate_reports = 0             # /peer/piece/suc calls made
        self._abort = _Either(cancelled, self._stopped)

    # ---- main loop -------------------------------------------------------------------
    def run(self) -> Finish:
        try:
            return self._run()
        finally:
            with self._lock:
                self._stopped.set()

    def _run(self) -> Finish:
        req, backoff = PullRequest(), Backoff(self.rng, BACKOFF_COLD)
        while True:
            self._check()
            sent = time.monotonic()
            try:
                reply = self.client.pull_piece_task(self.reg.node, self.reg.task_id, self.cid, req.dst_cid,
                                                    req.range, req.status, req.result)
            except SupernodeError as e:
                log.warning("pull failed node=%s error=%s", self.reg.node, e)
                reply = None
            log.debug("pull reply node=%s code=%s pieces=%d", self.reg.node, reply.code if reply else None,
                      len(reply.pieces) if reply else 0)
            if reply is not None and reply.code == R.CODE_SOURCE_ERROR:
                raise DownloadError(ErrorCode.DOWNLOAD, f"supernode {self.reg.node} reports a source error: "
                                    f"{reply.msg}", reason=BackSourceReason.SOURCE_ERROR)
            if reply is None or reply.code not in OK_CODES:
                self._migrate(reply.code if reply is not None else R.CODE_HTTP_ERROR)
                req = PullRequest()
                backoff.reset()
                continue
            if reply.code == R.CODE_PEER_FINISH:
                return self._finish(reply)
            if reply.code == R.CODE_PEER_WAIT:
                if time.monotonic() - sent >= HELD:     # the supernode held the 602: it waited for us
                    backoff.reset()
                    req = self._next_request(0.0) or req
                else:
                    req = self._next_request(backoff.next()) or req
                continue
            backoff.reset()
            started = self._start(reply.pieces)
            idle = not self.running and not self.pending and not started
            req = self._next_request(backoff.next() if idle else None) or req

    def _check(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled("download cancelled")
        if time.monotonic() > self.deadline:
            raise DownloadError(ErrorCode.DOWNLOAD, "P2P download timed out", reason=BackSourceReason.DOWNLOAD_ERROR)

    def _next_request(self, wait: float | None) -> PullRequest | None:
        """The next result to report; wait up to ``wait`` seconds (None: until one arrives)."""
        end = None if wait is None else time.monotonic() + wait
        while not self.pending:
            self._check()
            try:                                 # results already in: take them without waiting
                self._absorb(self.results.get_nowait())
                continue
            except queue.Empty:
                pass
            if wait is None and not self.running:
                return None
            timeout = POLL if end is None else min(POLL, end - time.monotonic())
            if timeout <= 0:
                return None
            try:
                self._absorb(self.results.get(timeout=timeout))
            except queue.Empty:
                continue
        out = self.pending.popleft()
        out.carried.set()
        return PullRequest(R.STATUS_RUNNING, out.task.range, out.result, out.task.cid)

    def _absorb(self, out: Outcome) -> None:
        if out.generation != self.generation:
            return
        self.running.pop(out.task.range, None)
        if out.result in REPORTED:
            self.done[out.task.range] = out.task
            self.pieces_from_peers += 1
            served_by = "supernode" if out.task.cid.startswith(SUPERNODE_CID_PREFIX) else "peers"
            self.bytes_from[served_by] += out.length
        self.pending.append(out)

    # ---- pieces ------------------------------------------------------------------------
    def _start(self, pieces: list[PieceTask]) -> int:
        started = 0
        for task in sorted(pieces, key=lambda t: t.piece_num):
            if task.piece_size != self.reg.piece_size and not self.reg.source_pieces:
                continue
            if task.range in self.running:
                continue
            if task.range in self.done:       # offered again: report it again
                self.pending.append(Outcome(task, self._written_result(), self.generation))
                if not self.reg.report_in_pull:
                    self._spawn(self._report_suc, task, self.reg.node, self.reg.task_id)
                continue
            if started == 0:
                self.on_new_pieces()
            th = self._spawn(self._work, task, self.reg, self.generation)
            self.running[task.range] = th
            started += 1
        return started

    def _spawn(self, fn, *args) -> threading.Thread:
        th = threading.Thread(target=fn, args=args, daemon=True, name="dfget-piece")
        th.start()
        return th

    def _work(self, task: PieceTask, reg: Registration, generation: int) -> None:
        with self.slots:
            try:
                n = self.fetcher.fetch(task, self.data, source=reg.source_pieces, file_length=reg.file_length,
                                       cancelled=self._abort)
            except PieceError as e:
                self._failed(task, reg, generation, e)
                return
            except Exception as e:      # noqa: BLE001 - any other failure is a failed piece
                log.exception("piece failed range=%s", task.range)
                self._failed(task, reg, generation, PieceError("http", str(e)))
                return
        offset = piece_offset(task.piece_num, task.piece_size, wrapped=not reg.source_pieces)
        log.debug("piece written num=%d peer=%s:%s bytes=%d", task.piece_num, task.peer_ip, task.peer_port, n)
        with self._lock:
            if self._stopped.is_set():
                return
            self.end_offset = max(self.end_offset, offset + n)
            if task.fast_digest and not reg.source_pieces:
                self.checked["xxh3-128"] += 1
            elif task.expected_md5:
                self.checked["md5"] += 1
            else:
                self.unchecked_pieces += 1
            out = Outcome(task, R.RESULT_SUC if reg.report_in_pull else R.RESULT_SEMISUC, generation, length=n)
            self.results.put(out)
            self.progress.add(offset, n)
        if not reg.report_in_pull or not out.carried.wait(REPORT_GRACE):
            self._report_suc(task, reg.node, reg.task_id)

    def _written_result(self) -> int:
        """The result that reports a written piece in a /peer/task call (see the module docstring)."""
        return R.RESULT_SUC if self.reg.report_in_pull else R.RESULT_SEMISUC

    def _failed(self, task: PieceTask, reg: Registration, generation: int, err: PieceError) -> None:
        if self._stopped.is_set():
            return
        log.warning("piece failed range=%s peer=%s:%s kind=%s error=%s", task.range, task.peer_ip,
                    task.peer_port, err.kind, err)
        if err.kind == "stalled":
            with self._lock:
                self.stalled += 1
        if err.kind in ("not_found", "md5"):
            etype = R.ERROR_FILE_NOT_EXIST if err.kind == "not_found" else R.ERROR_MD5_NOT_MATCH
            try:
                self.client.report_piece_error(reg.node, reg.task_id, self.cid, task.cid, task.peer_ip, task.range,
                                               etype, err.real_md5, err.expected_md5)
            except SupernodeError as e:
                log.info("piece error report failed error=%s", e)
        time.sleep(0.02)
        self.results.put(Outcome(task, R.RESULT_FAIL, generation, error=err))

    def _report_suc(self, task: PieceTask, node: str, task_id: str) -> None:
        """``/peer/piece/suc`` to ``node``, tried 3 times. Once the loop migrates away from that node the report
        is dropped at once (no retries against a dead member hold up the migration): the new node offers the
        piece again and it is reported there (see ``_start``)."""
        self.separate_reports += 1
        for attempt in range(3):
            if self._leaving.is_set() and node == self.reg.node:
                log.info("piece/suc dropped range=%s: migrating away from node=%s", task.range, node)
                return
            try:
                self.client.report_piece(node, task_id, self.cid, task.cid, task.range)
                return
            except SupernodeError as e:
                log.info("piece/suc failed range=%s attempt=%d error=%s", task.range, attempt + 1, e)
                self._leaving.wait(self.rng.uniform(0.05, 0.55))

    # ---- migration and finish ----------------------------------------------------------
    def _join_running(self) -> None:
        for th in list(self.running.values()):
            while th.is_alive():
                self._check()
                th.join(POLL)
        while True:
            try:
                self._absorb(self.results.get_nowait())
            except queue.Empty:
                break
        self.running.clear()

    def _migrate(self, code: int) -> None:
        log.warning("pull replied code=%s node=%s: migrating", code, self.reg.node)
        self._leaving.set()
        try:
            self._join_running()
            self.pending.clear()
            reg = self._register_again()
        finally:
            self._leaving.clear()
        if reg.piece_size != self.reg.piece_size or reg.source_pieces != self.reg.source_pieces:
            self.data.truncate(0)
            self.done.clear()
            self.end_offset = 0
            self.progress.switch(self.data.path)
        self.generation += 1
        self.reg = reg
        self.on_registered(reg)
        self.console(f"migrated to node:{reg.node}")

    def _register_again(self) -> Registration:
        """Register with the next supernode of the list. When no node of the walk answered (every member of a
        cluster restarting at once, or one after the other), walk the whole list again after a pause, up to
        ``len(MIGRATION_PAUSES)`` more times, before giving up; an answer that refuses the download (auth, URL
        not reachable) ends the migration at once."""
        for pause in (*MIGRATION_PAUSES, None):
            try:
                return self.registrar.register(self.make_request())
            except RegisterFailed as e:
                if pause is None or e.code in (R.CODE_NEED_AUTH, R.CODE_URL_NOT_REACHABLE):
                    raise DownloadError(ErrorCode.DOWNLOAD, f"migration failed: {e.message}",
                                        reason=BackSourceReason.DOWNLOAD_ERROR) from None
                log.warning("migration: no supernode answered (%s); walking the list again in %.1fs",
                            e.message, pause)
                if self.cancelled.wait(pause):
                    raise Cancelled("download cancelled") from None
                self._check()
                self.registrar.locator.rewind()
        raise AssertionError("unreachable")

    def _finish(self, reply) -> Finish:
        self._join_running()
        length = self.reg.file_length if self.reg.file_length >= 0 else self.end_offset
        return Finish(md5=reply.md5, length=length)
