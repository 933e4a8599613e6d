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

log = logging.getLogger(__name__)


def lease_name(task_id: str) -> str:
    return "cdn:" + task_id


class ClusterCdn:
    def __init__(self, inner, node, records):
        self.inner, self.node, self.records = inner, node, records
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

    def trigger(self, req: T.SourceRequest, piece_size: int, source_length: int) -> None:
        if not self.node.leases.take(lease_name(req.task_id)):
            log.info("cdn run left to the lease holder task=%s holder=%s", req.task_id,
                     self.node.leases.holder(lease_name(req.task_id)))
            return
        with self._lock:
            self._runs.add(req.task_id)
        log.info("cdn lease taken task=%s member=%s", req.task_id, self.node.member_id)
        self.inner.trigger(req, piece_size, source_length)

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

    def __init__(self, inner, state, node, records):
        self.inner, self.state, self.node, self.records = inner, state, node, records

    def on_piece(self, task_id: str, piece_num: int, piece_md5: str) -> None:
        self.inner.on_piece(task_id, piece_num, piece_md5)

    def _publish(self, task_id: str) -> None:
        task = self.state.tasks.get(task_id)
        if task is not None:
            self.records.publish_status(task)
        self.node.leases.release(lease_name(task_id))

    def on_success(self, task_id: str, file_length: int, real_md5: str, source_length: int) -> None:
        self.inner.on_success(task_id, file_length, real_md5, source_length)
        self._publish(task_id)

    def on_failure(self, task_id: str, reason: str, source_error: bool) -> None:
        self.inner.on_failure(task_id, reason, source_error)
        self._publish(task_id)
