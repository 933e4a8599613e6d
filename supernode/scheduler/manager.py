"""The task manager: registration, the pull loop (``/peer/task``) and piece reports.

It ties the state, the scheduler and the CDN together; the API blueprints call one method each.
"""
from __future__ import annotations

import logging
import time
from contextlib import nullcontext

from dfcommon import pieces
from dfcommon import task_id as tid
from dfcommon.errors import DfError
from supernode.cdn.types import FAILED, RUNNING, SOURCE_ERROR, SUCCESS, WAITING, Cdn

from . import progress as P
from .requests import (RESULT_FAIL, RESULT_SEMISUC, RESULT_SUC, TASK_FINISHED, TASK_RUNNING, TASK_STARTED,
                       PieceErrorReport, PullRequest, RegisterRequest)
from .peers import intern
from .scheduler import SUPERNODE, Assignment, Scheduler
from .state import SchedulerState
from .tasks import DF_FAILED, DF_RUNNING, DF_SUCCESS, DfgetTask, Task, new_task

log = logging.getLogger(__name__)
CODE_FINISH, CODE_CONTINUE, CODE_WAIT, CODE_PIECE_REPORT, CODE_PEER_DOWN = 600, 601, 602, 611, 612
STALE_RETRIES = 2       # schedule again when every holder a call picked turned out stale
_NO_SCOPE = nullcontext()     # reusable: entered once per call when the store needs no scope
_RESULTS = {RESULT_SUC: P.SUCCESS, RESULT_FAIL: P.FAILED, RESULT_SEMISUC: P.SEMISUC}


class TaskManager:
    def __init__(self, config, state: SchedulerState, scheduler: Scheduler, cdn: Cdn, piece_errors=None):
        self.config = config
        self.state = state
        self.scheduler = scheduler
        self.cdn = cdn
        self.piece_errors = piece_errors
        self.piece_extras = None        # adds scheme/token fields to PieceInfo (supernode.auth.PieceInfoExtras)

    # --- /peer/registry -------------------------------------------------------------------------
    def register(self, req: RegisterRequest) -> dict:
        st = self.state
        if st.is_super_cid(req.cid):
            raise DfError("INVALID_PARAM", "cid uses the supernode's reserved prefix")
        candidate = new_task(req.raw_url, req.task_url, req.md5, req.identifier, req.headers, st.clock)
        candidate.insecure, candidate.root_cas = req.insecure, list(req.root_cas)
        length = self._probe(candidate)
        with st.lock:
            task, created, trigger = self._admit(candidate, length)
            peer = st.peers.register(req.ip, req.host_name, req.port, req.version, req.pattern == "cdn",
                                     location=req.location, idc=req.idc)
            peer.scheme = getattr(req, "upload_scheme", "") or "http"     # https: the peer's upload server uses TLS
            st.add_dfget_task(DfgetTask(cid=req.cid, task_id=task.id, peer_id=peer.id, path=req.path,
                                        call_system=intern(req.call_system), dfdaemon=req.dfdaemon,
                                        super_node_ip=intern(req.super_node_ip), created=peer.created))
        log.info("registered task=%s peer=%s cid=%s new_task=%s", task.id, peer.id, req.cid, created)
        if trigger:
            self._trigger(task)
        return {"taskId": task.id, "fileLength": task.source_length, "pieceSize": task.piece_size,
                "cdnSource": "source" if self.config.cdn_pattern == "source" else "supernode",
                "reportInPull": True}

    def _probe(self, candidate: Task) -> int:
        """Conflict check, then the source length when the task is new or was never probed (outside the
        state lock: it is network I/O). May raise 606 / 607 / 608 / 610."""
        existing = self.state.tasks.get(candidate.id)
        if existing is not None and not existing.same_identity(candidate):
            raise DfError("TASK_CONFLICT", f"task id {candidate.id} already used by another url/md5/identifier")
        if existing is None or existing.source_length == 0:
            info = self.cdn.probe(candidate.source_request())
            return info.length if info.length is not None else -1
        return -1

    def _admit(self, candidate: Task, length: int) -> tuple[Task, bool, bool]:
        """The register path shared by peers and preheat: add (or find) the task, take the probed length,
        the latest headers, and decide on a CDN trigger. Called with the state lock held."""
        st = self.state
        task, created = st.tasks.add_or_get(candidate)
        if created:
            st.new_task(task)
        if task.source_length == 0:
            task.source_length = length
            task.piece_size = getattr(self.config, "piece_size", 0) or pieces.auto_piece_size(length)
            task.piece_total = pieces.piece_total(length, task.piece_size) if length >= 0 else -1
        # the latest register's headers and TLS settings are used against the source
        task.headers, task.insecure, task.root_cas = list(candidate.headers), candidate.insecure, \
            list(candidate.root_cas)
        trigger = task.cdn_status in (WAITING, FAILED, SOURCE_ERROR)
        if trigger:
            st.set_cdn_status(task, RUNNING)
            st.progress.init_task(task.id, reset=True)
        return task, created, trigger

    def warm(self, raw_url: str, headers: list[tuple[str, str]] | None = None, filters=(), identifier: str = "",
             insecure: bool = False) -> Task:
        """Register a peerless task and start its CDN download (preheat): the same task id a dfget or
        dfdaemon computes for ``raw_url`` (task URL = the filtered raw URL). Returns the task at once;
        its ``cdn_status`` tells when the CDN is done."""
        st = self.state
        candidate = new_task(raw_url, tid.filter_url_param(raw_url, list(filters or ())), "", identifier,
                             list(headers or []), st.clock)
        candidate.insecure = insecure
        length = self._probe(candidate)
        with st.lock:
            task, created, trigger = self._admit(candidate, length)
            st.tasks.touch(task.id)
        log.info("warm task=%s new_task=%s trigger=%s", task.id, created, trigger)
        if trigger:
            self._trigger(task)
        return task

    def _trigger(self, task: Task) -> None:
        try:
            self.cdn.trigger(task.source_request(), task.piece_size, task.source_length)
        except Exception as e:          # the CDN could not even start: the task fails, the peer goes elsewhere
            log.exception("cdn trigger failed task=%s", task.id)
            with self.state.lock:
                self.state.set_cdn_status(task, FAILED, str(e))
            raise DfError("INTERNAL", f"failed to trigger the cdn for task {task.id}") from None

    # --- /peer/task -----------------------------------------------------------------------------
    def pull(self, req: PullRequest) -> tuple[int, object]:
        """Return (result code, data) for the ResultInfo envelope. When there is nothing to hand out,
        the 602 is held for up to ``pull_hold`` seconds and the client scheduled again as soon as the
        task's progress changes (see :mod:`supernode.scheduler.signals`)."""
        st = self.state
        with st.lock, self._call_scope(req.task_id, req.src_cid, req.dst_cid if req.status == TASK_RUNNING else None,
                                       req.piece_range if req.status == TASK_RUNNING else ""):
            dt = st.dfget_tasks.require(req.src_cid, req.task_id)
            task = st.tasks.require(req.task_id)
            st.tasks.touch(task.id)
            if req.status == TASK_STARTED:
                st.set_dfget_status(dt, DF_RUNNING)
            elif req.status == TASK_RUNNING:
                self._apply_result(dt, req)
            elif req.status == TASK_FINISHED:
                st.set_dfget_status(dt, DF_SUCCESS if req.result == RESULT_SUC else DF_FAILED)
                return CODE_FINISH, None
            else:
                raise DfError("INVALID_PARAM", f"unknown status {req.status}")
            code, data = self._next(task, dt)
            hold = float(getattr(self.config, "pull_hold", 0) or 0)
            if code != CODE_WAIT or hold <= 0:
                return code, data
            changed = st.signals.event(task.id)
        return self._held(req, changed, time.monotonic() + hold)

    def _call_scope(self, task_id: str, cid: str, dst_cid: str | None = None, piece_range: str = "",
                    schedule: bool = True):
        """Around one call's work under the lock: nothing here (the in-memory store answers at once); a
        cluster member reads the call's view of the shared store once and writes once (ClusterTaskManager)."""
        return _NO_SCOPE

    def _held(self, req: PullRequest, changed, deadline: float) -> tuple[int, object]:
        """Schedule again at every change of the task until something is handed out or ``deadline``."""
        st = self.state
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not changed.wait(remaining):
                return CODE_WAIT, None
            with st.lock, self._call_scope(req.task_id, req.src_cid):
                dt, task = st.dfget_tasks.get(req.src_cid, req.task_id), st.tasks.get(req.task_id)
                if dt is None or task is None:
                    return CODE_WAIT, None          # dropped while held: the next call gets the error
                code, data = self._next(task, dt)
                if code != CODE_WAIT:
                    return code, data
                changed = st.signals.event(task.id)

    def _apply_result(self, dt: DfgetTask, req: PullRequest) -> None:
        status = _RESULTS.get(req.result)
        if status is None:                  # INVALID (502) or no result: nothing to apply, just schedule
            return
        piece = _piece_num(req.piece_range)
        dst = self._dst_pid(req.dst_cid, dt.task_id)
        if status == P.SUCCESS:
            self._count_report(dt, dst, piece, req.piece_range)
        if self.state.progress.update(dt.cid, dt.peer_id, dst, piece, status):
            self.state.signals.notify(dt.task_id)

    def _dst_pid(self, dst_cid: str, task_id: str) -> str | None:
        if not dst_cid or self.state.is_super_cid(dst_cid):
            return SUPERNODE
        dst = self.state.dfget_tasks.get(dst_cid, task_id)
        return dst.peer_id if dst else None

    def _next(self, task: Task, dt: DfgetTask) -> tuple[int, object]:
        st = self.state
        if task.cdn_status in (FAILED, SOURCE_ERROR):
            raise DfError("CDN_FAILED", f"cdn failed for task {task.id}: {task.cdn_reason or task.cdn_status}")
        if task.cdn_status == WAITING:
            return CODE_WAIT, None
        count = getattr(st.progress, "success_count", None)      # the in-memory store counts without a list
        done = count(dt.cid) if count is not None else len(st.progress.success_pieces(dt.cid))
        if task.cdn_status == SUCCESS and done >= task.piece_total:
            st.set_dfget_status(dt, DF_SUCCESS)
            peer = st.peers.get(dt.peer_id)
            if peer is not None and peer.cdn_pattern:
                st.peers.mark_down(peer.id)
            return CODE_FINISH, {"md5": task.real_md5, "fileLength": task.file_length}
        for _ in range(STALE_RETRIES + 1):
            started = st.clock()
            result = self.scheduler.schedule(task.id, dt.cid, dt.peer_id)
            st.metrics.schedule_observe((st.clock() - started) * 1000)
            if result.busy:
                return CODE_CONTINUE, []
            if result.wait:
                return CODE_WAIT, None
            infos = [info for info in (self._piece_info(task, dt, a) for a in result.assignments) if info]
            if infos:
                return CODE_CONTINUE, infos
            # every holder picked was stale (dropped now): schedule again, the pieces go to other holders
        return CODE_WAIT, None

    def _piece_info(self, task: Task, dt: DfgetTask, a: Assignment) -> dict | None:
        st = self.state
        ps = task.piece_size
        if a.dst_pid == SUPERNODE:
            cid, path = st.super_cid(task.id), self.cdn.piece_path(task.id, task.raw_url)
            ip, port = self._supernode_pieces_at(task, dt)
        else:
            peer, cid = st.peers.get(a.dst_pid), st.dfget_tasks.cid_of(a.dst_pid, task.id)
            src = st.dfget_tasks.get(cid, task.id) if cid else None
            if peer is None or src is None:
                # a stale holder: the peer left, or its client registered again under a new peer id (a dfget
                # that moved to another member keeps its cid): give the piece back and forget that holder,
                # else the same holder is picked at every call and the client waits for ever
                st.progress.update(dt.cid, dt.peer_id, a.dst_pid, a.piece, P.WAITING)
                st.progress.drop_holder(task.id, a.piece, a.dst_pid)
                return None
            ip, port, path = peer.ip, peer.port, src.path
        peer_scheme = "http" if a.dst_pid == SUPERNODE else getattr(peer, "scheme", "http")
        start, end = a.piece * ps, a.piece * ps + ps - 1
        if self.config.cdn_pattern == "source" and task.source_length > 0:
            end = min(end, task.source_length - 1)          # raw source ranges, no wrapping
        md5 = st.progress.piece_md5(task.id, a.piece) or self.cdn.piece_md5(task.id, a.piece) or ""
        info = {"range": f"{start}-{end}", "pieceNum": a.piece, "pieceSize": ps, "pieceMd5": md5, "cid": cid,
                "peerIp": ip, "peerPort": port, "path": path, "downLink": 0}
        if self.piece_extras is not None:
            self.piece_extras.apply(info, task.id, dt.cid, a.dst_pid == SUPERNODE, peer_scheme)
        return info

    def _supernode_pieces_at(self, task: Task, dt: DfgetTask) -> tuple[str, int]:
        """The host and port a client fetches the supernode's pieces of ``task`` from: this supernode's piece
        server (a cluster member may name the member that fetched the task instead)."""
        return self.config.advertise_ip or dt.super_node_ip, self.config.download_port

    # --- reports --------------------------------------------------------------------------------
    def piece_success(self, task_id: str, cid: str, dst_cid: str, piece_range: str) -> int:
        st = self.state
        piece = _piece_num(piece_range)
        with st.lock, self._call_scope(task_id, cid, dst_cid, piece_range, schedule=False):
            dt = st.dfget_tasks.require(cid, task_id)
            st.tasks.touch(task_id)
            dst = self._dst_pid(dst_cid, task_id)
            self._count_report(dt, dst, piece, piece_range)
            if st.progress.update(dt.cid, dt.peer_id, dst, piece, P.SUCCESS):
                st.signals.notify(task_id)
        return CODE_PIECE_REPORT

    def _count_report(self, dt: DfgetTask, dst: str | None, piece: int, piece_range: str) -> None:
        """Metrics of a piece reported written, by ``/peer/piece/suc`` or by a ``/peer/task`` result 501;
        a piece its client already reported (both ways, or again) is counted once."""
        st = self.state
        if dt.peer_id in st.progress.holders(dt.task_id, piece):
            return
        if dst == SUPERNODE:
            start, end = pieces.parse_range(piece_range)
            st.metrics.pieces_downloaded_size.inc(end - start + 1)
        else:
            server, taker = st.peers.get(dst) if dst else None, st.peers.get(dt.peer_id)
            st.metrics.peer_pieces.labels(st.metrics.version_label(server.version if server else ""),
                                          st.metrics.version_label(taker.version if taker else "")).inc()
        st.metrics.pieces_reported.labels("supernode" if dst == SUPERNODE else "peer").inc()

    def supernode_sent(self, task_id: str, piece: int) -> None:
        """The piece server ended a send of ``piece``: its slot is free for the next piece now, not when its
        client reports (the report follows the bytes across the link, the md5 and a round trip)."""
        st = self.state
        with st.lock:
            if not st.progress.sn_send_ended(task_id, piece):
                return
            if self.scheduler.limits.supernode_upload_total > 0:
                st.signals.notify_all()         # a held call of any task may have waited on the total cap
            else:
                st.signals.notify(task_id)

    def service_down(self, task_id: str, cid: str) -> int:
        with self.state.lock:
            dt = self.state.dfget_tasks.require(cid, task_id)
            self.state.peers.mark_down(dt.peer_id)
            self.state.signals.notify(task_id)
        log.info("service down task=%s cid=%s peer=%s", task_id, cid, dt.peer_id)
        return CODE_PEER_DOWN

    def piece_error(self, rep: PieceErrorReport) -> bool:
        """Queue a check of the supernode's copy when the failing source was the supernode."""
        piece = _piece_num(rep.piece_range)
        log.warning("piece error task=%s piece=%d src=%s dst=%s type=%s", rep.task_id, piece, rep.src_cid,
                    rep.dst_cid, rep.error_type)
        if not self.state.is_super_cid(rep.dst_cid) or self.state.tasks.get(rep.task_id) is None:
            return False
        if self.piece_errors is None:
            return False
        return self.piece_errors.submit(rep.task_id, piece, rep.expected_md5)

    def delete_task(self, task_id: str, full: bool = False) -> bool:
        task = self.state.drop_task(task_id)
        if task is not None:
            self.cdn.delete(task_id, full)
        return task is not None


def _piece_num(piece_range: str) -> int:
    try:
        return pieces.piece_num_of_range(piece_range)
    except (ValueError, ZeroDivisionError):
        raise DfError("INVALID_PARAM", f"invalid piece range {piece_range!r}") from None
