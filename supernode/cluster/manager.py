"""The task manager of a cluster member: the single-supernode ``TaskManager`` with the shared records around
its calls. A register publishes the task, the peer and its dfget task; any other call first adopts what other
members published about the task, so a peer registered on member A is served by member B."""
from __future__ import annotations

from contextlib import contextmanager

from dfcommon.errors import DfError
from supernode.scheduler.manager import TaskManager, _piece_num
from supernode.scheduler.requests import RESULT_SUC, TASK_RUNNING

from .outage import REDIS_ERRORS, unavailable


class ClusterTaskManager(TaskManager):
    def __init__(self, config, state, scheduler, cdn, piece_errors, records, node):
        super().__init__(config, state, scheduler, cdn, piece_errors)
        self.records, self.node = records, node

    def _shared(self, what: str, fn, *args):
        """Run a call that needs the shared state; Redis down -> 503 with a clear message (logged once per
        interval)."""
        try:
            result = fn(*args)
        except REDIS_ERRORS as e:
            self.node.outage.failed(what, e)
            self.node.metrics.redis_errors.inc()
            raise unavailable(e) from None
        self.node.outage.ok()
        return result

    def sync(self, task_id: str):
        with self.state.lock:
            return self.records.sync(task_id, runs_cdn=self.cdn.runs(task_id))

    # --- calls ----------------------------------------------------------------------------------
    def _probe(self, candidate):
        self.sync(candidate.id)          # a task another member knows: no probe, no second CDN run
        return super()._probe(candidate)

    def register(self, req) -> dict:
        return self._shared("/peer/registry", self._register, req)

    def _register(self, req) -> dict:
        reply = super().register(req)
        st = self.state
        with st.lock:
            task, dt = st.tasks.get(reply["taskId"]), st.dfget_tasks.get(req.cid, reply["taskId"])
            peer = st.peers.get(dt.peer_id) if dt is not None else None
        if task is not None:
            self.records.publish_task(task)
        if dt is not None and peer is not None:
            self.records.publish_dfget(dt, peer)
            st.progress.note_uplink(peer.id, peer.uplink)       # read with the peer's state by snapshots
        return reply

    def warm(self, raw_url, headers=None, filters=(), identifier="", insecure=False):
        task = self._shared("preheat", super().warm, raw_url, headers, filters, identifier, insecure)
        self._shared("preheat", self.records.publish_task, task)
        return task

    def pull(self, req):
        # the shared records are read again in the call's snapshot when their version changed (_call_scope)
        reply = self._shared("/peer/task", super().pull, req)
        if req.status == TASK_RUNNING and req.result == RESULT_SUC:
            self._count_cross(req.task_id, req.dst_cid, req.src_cid)
        return reply

    def piece_success(self, task_id, cid, dst_cid, piece_range):
        code = self._shared("/peer/piece/suc", super().piece_success, task_id, cid, dst_cid, piece_range)
        self._count_cross(task_id, dst_cid, cid)
        return code

    @contextmanager
    def _call_scope(self, task_id, cid, dst_cid=None, piece_range="", schedule=True):
        """One snapshot of the shared store for the call (supernode.cluster.snapshot): the client, the task,
        the asking peer and the source of a reported piece, with ``schedule`` the holders of the pieces the
        client wants; the task's shared records are read again only when their version changed. The call's
        writes go out in one pipeline when it ends."""
        st = self.state
        dt = st.dfget_tasks.get(cid, task_id)
        dst = self._dst_pid(dst_cid, task_id) if dst_cid is not None else None
        try:
            reported = [_piece_num(piece_range)] if piece_range else []
        except DfError:
            reported = []               # the call itself refuses the range
        with st.progress.call(task_id, cid, dt.peer_id if dt is not None else "", [dst] if dst else [],
                              reported, schedule) as snap:
            self.records.sync(task_id, runs_cdn=self.cdn.runs(task_id), ver=snap.ver)   # no read: same version
            yield snap

    def _count_cross(self, task_id: str, server_cid: str, taker_cid: str) -> None:
        """A piece reported as written, served by ``server_cid`` to ``taker_cid``: counted when both are peers
        that registered with different members (a peer of A served a peer of B)."""
        server, taker = self.records.member_of(task_id, server_cid), self.records.member_of(task_id, taker_cid)
        if server is not None and taker is not None and server != taker:
            self.node.metrics.cross_member_peer_pieces.inc()

    def service_down(self, task_id, cid):
        self._shared("/peer/service/down", self.sync, task_id)
        code = self._shared("/peer/service/down", super().service_down, task_id, cid)
        dt = self.state.dfget_tasks.get(cid, task_id)
        peer = self.state.peers.get(dt.peer_id) if dt is not None else None
        if peer is not None:
            self._shared("/peer/service/down", self.records.publish_down, task_id, cid, peer.service_down_time)
        return code

    def _supernode_pieces_at(self, task, dt):
        """With ``cluster.piece_source: holder``, the piece server of the member that fetched the task when it
        is another member (its uplink then sends each supernode piece once, with no relay hop); else this
        member's, whose piece server relays from the holder (``pieces.py``)."""
        if self.node.conf.piece_source == "holder":
            server = self.node.holders.of(task.id)
            if server is not None:
                return server.host, server.port
        return super()._supernode_pieces_at(task, dt)

    def supernode_sent(self, task_id, piece):
        try:
            super().supernode_sent(task_id, piece)
        except REDIS_ERRORS as e:            # the piece went out; its slot expires with the superload reset
            self.node.outage.failed("piece sent", e)

    def delete_task(self, task_id, full=False):
        found = self._shared("task delete", super().delete_task, task_id, full)
        self._shared("task delete", self.records.forget_task, task_id)
        return found

