"""Origin once per cluster: the CDN of a member runs a task's back-to-source download only while it holds the
task's lease (``cdn:<task id>`` in Redis). The other members do not fetch: their peers get the pieces the
holder published, and their piece servers fetch those pieces from the holder's (``pieces.py``).

:class:`ClusterCdn` wraps the member's ``CdnManager`` (everything but ``trigger`` passes through);
:class:`ClusterCdnEvents` wraps the scheduler's CDN listener and publishes the run's outcome.
"""
from __future__ import annotations

import logging
import threading

from supernode.cdn import types as T

from .outage import REDIS_ERRORS

log = logging.getLogger(__name__)


def lease_name(task_id: str) -> str:
    return "cdn:" + task_id


class ClusterCdn:
    def __init__(self, inner, node, records, budget=None):
        self.inner, self.node, self.records = inner, node, records
        self.budget = budget                  # max_source_downloads for the cluster (budgets.py), or None
        self._runs: set[str] = set()          # tasks whose CDN download this member runs or ran
        self._lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def runs(self, task_id: str) -> bool:
        """Whether this member's own CDN runs (or ran) the task: its own status is then the one that counts."""
        with self._lock:
            return task_id in self._runs

    def owned(self) -> list[str]:
        with self._lock:
            return sorted(self._runs)

    def probe(self, req: T.SourceRequest) -> T.SourceInfo:
        """A new task's probe: counted against the cluster's ``max_source_downloads`` first (503 beyond it, and
        503 when Redis cannot say), then the member's own probe."""
        if self.budget is not None and req.task_id not in self.inner.running():
            self.budget.admit(req.task_id)
            try:
                return self.inner.probe(req)
            except Exception:
                self._release_budget(req.task_id)
                raise
        return self.inner.probe(req)

    def _release_budget(self, task_id: str) -> None:
        try:
            self.budget.release(task_id)
        except REDIS_ERRORS as e:              # the entry lapses after lease_ttl
            self.node.outage.failed("source download budget", e)

    def renew_budget(self) -> None:
        """After each heartbeat: keep this member's running fetches counted (Redis errors: the beat's)."""
        if self.budget is not None:
            self.budget.renew(self.inner.running())

    def trigger(self, req: T.SourceRequest, piece_size: int, source_length: int) -> None:
        if not self.node.leases.take(lease_name(req.task_id)):
            log.info("cdn run left to the lease holder task=%s holder=%s", req.task_id,
                     self.node.leases.holder(lease_name(req.task_id)))
            return
        with self._lock:
            self._runs.add(req.task_id)
        log.info("cdn lease taken task=%s member=%s", req.task_id, self.node.member_id)
        self.inner.trigger(req, piece_size, source_length)

    def resume(self, task) -> None:
        """Run the task's fetch here after a take-over (the caller holds the lease and seeded the store)."""
        with self._lock:
            self._runs.add(task.id)
        self.inner.trigger(task.source_request(), task.piece_size, task.source_length)

    def check_piece(self, task_id: str, piece_num: int, expected_md5: str) -> bool:
        """Only the member whose CDN fetched the task checks (and may collect) its copy."""
        if not self.runs(task_id):
            return True
        return self.inner.check_piece(task_id, piece_num, expected_md5)

    def delete(self, task_id: str, full: bool) -> None:
        with self._lock:
            self._runs.discard(task_id)
        self.inner.delete(task_id, full)


class ClusterCdnEvents:
    """The scheduler's CDN listener, plus the shared record of the run's outcome and the lease's release."""

    def __init__(self, inner, state, node, records, cdn=None):
        self.inner, self.state, self.node, self.records, self.cdn = inner, state, node, records, cdn
        self._validators: set[str] = set()      # tasks whose origin ETag / Last-Modified are published
        self._pending: set[str] = set()         # outcomes not yet written (Redis was down): retried each beat
        self._pieces: list[tuple[str, int, str]] = []     # pieces not yet written, likewise
        self._lock = threading.Lock()
        node.membership.after_beat.append(self.retry)

    def on_piece(self, task_id: str, piece_num: int, piece_md5: str) -> None:
        try:
            self.inner.on_piece(task_id, piece_num, piece_md5)
            if task_id not in self._validators:
                self._publish_validators(task_id)
        except REDIS_ERRORS as e:
            self.node.outage.failed("cdn piece", e)
            with self._lock:
                self._pieces.append((task_id, piece_num, piece_md5))

    def _publish_validators(self, task_id: str) -> None:
        """The origin's ETag / Last-Modified of this fetch, so a member taking the fetch over can resume it."""
        metas = getattr(getattr(self.cdn, "inner", None), "metas", None)
        meta = metas.read(task_id) if metas is not None else None
        if meta is None or not (meta.eTag or meta.lastModified):
            return
        self.records.publish_validators(task_id, meta.eTag, meta.lastModified)
        self._validators.add(task_id)

    def _publish(self, task_id: str) -> None:
        try:
            task = self.state.tasks.get(task_id)
            if task is not None:
                self.records.publish_status(task)
            self.node.leases.release(lease_name(task_id))
            budget = getattr(self.cdn, "budget", None)
            if budget is not None:
                budget.release(task_id)
        except REDIS_ERRORS as e:
            self.node.outage.failed("cdn outcome", e)
            with self._lock:
                self._pending.add(task_id)

    def on_success(self, task_id: str, file_length: int, real_md5: str, source_length: int) -> None:
        try:
            self.inner.on_success(task_id, file_length, real_md5, source_length)
        except REDIS_ERRORS as e:           # the local task is done; its shared side is written on a later beat
            self.node.outage.failed("cdn success", e)
            with self._lock:
                self._pending.add(task_id)
            return
        self._publish(task_id)

    def retry(self) -> None:
        """Write what an outage kept from Redis: pieces first, then the outcomes."""
        with self._lock:
            pieces, self._pieces = self._pieces, []
            pending, self._pending = self._pending, set()
        for i, (task_id, num, md5) in enumerate(pieces):
            try:
                self.state.progress.sn_piece(task_id, num, md5)
            except REDIS_ERRORS:
                with self._lock:
                    self._pieces[:0] = pieces[i:]
                    self._pending |= pending
                return
        for task_id in pending:
            task = self.state.tasks.get(task_id)
            try:
                if task is not None and task.cdn_status == T.SUCCESS:
                    self.state.progress.sn_finished(task_id)
            except REDIS_ERRORS:
                with self._lock:
                    self._pending.add(task_id)
                continue
            self._publish(task_id)

    def on_failure(self, task_id: str, reason: str, source_error: bool) -> None:
        try:
            self.inner.on_failure(task_id, reason, source_error)
        except REDIS_ERRORS as e:
            self.node.outage.failed("cdn failure", e)
        self._publish(task_id)
