"""The scheduler's in-memory state in one object, with the changes that keep metrics in step.

One re-entrant lock guards it; the API runs under gevent, so sections stay short and never
wait on I/O (CDN probes and triggers run outside the lock).
"""
from __future__ import annotations

import threading
import time

from supernode.cdn.types import FAILED, SOURCE_ERROR, SUCCESS, WAITING

from .peers import PeerRegistry
from .progress import ProgressStore
from .signals import TaskSignals
from .tasks import DF_FAILED, DfgetTask, DfgetTaskRegistry, Task, TaskRegistry

SUPER_CID_PREFIX = "cdnnode:"


class SchedulerState:
    def __init__(self, metrics, advertise_ip: str = "", clock=time.time):
        self.metrics = metrics
        self.clock = clock
        self.lock = threading.RLock()
        self.peers = PeerRegistry(clock, metrics)
        self.tasks = TaskRegistry(clock)
        self.dfget_tasks = DfgetTaskRegistry()
        self.progress = ProgressStore()
        self.signals = TaskSignals()
        self.cid_prefix = f"{SUPER_CID_PREFIX}{advertise_ip or 'supernode'}~"

    # --- supernode client ids (Dragonfly: "cdnnode:<ip>~<taskID>") ------------------------------
    def super_cid(self, task_id: str) -> str:
        return self.cid_prefix + task_id

    @staticmethod
    def is_super_cid(cid: str) -> bool:
        return (cid or "").startswith(SUPER_CID_PREFIX)

    # --- status changes -------------------------------------------------------------------------
    def new_task(self, task: Task) -> None:
        self.metrics.tasks_registered.inc()
        self.metrics.tasks.labels(task.cdn_status).inc()

    def set_cdn_status(self, task: Task, status: str, reason: str = "") -> None:
        if task.cdn_status == SUCCESS and status in (FAILED, SOURCE_ERROR, WAITING):
            return                       # a finished task is not failed by a late event
        if status != task.cdn_status:
            self.metrics.tasks.labels(task.cdn_status).dec()
            self.metrics.tasks.labels(status).inc()
            task.cdn_status = status
        task.cdn_reason = reason

    def add_dfget_task(self, dt: DfgetTask) -> None:
        old = self.dfget_tasks.add(dt)
        if old is not None:
            self._forget_dfget(old)
        self.metrics.dfgettasks_registered.labels(dt.call_system).inc()
        self.metrics.dfgettasks.labels(dt.call_system, dt.status).inc()
        self.progress.init_client(dt.task_id, dt.cid, dt.peer_id)

    def set_dfget_status(self, dt: DfgetTask, status: str) -> None:
        if status == dt.status:
            return
        self.metrics.dfgettasks.labels(dt.call_system, dt.status).dec()
        self.metrics.dfgettasks.labels(dt.call_system, status).inc()
        if status == DF_FAILED:
            self.metrics.dfgettasks_failed.labels(dt.call_system).inc()
        dt.status = status

    def _forget_dfget(self, dt: DfgetTask) -> None:
        self.metrics.dfgettasks.labels(dt.call_system, dt.status).dec()
        if self.progress.client(dt.cid) is not None and self.progress.client(dt.cid).task_id == dt.task_id:
            self.progress.delete_client(dt.cid)

    def delete_dfget_task(self, dt: DfgetTask) -> None:
        if self.dfget_tasks.delete(dt.cid, dt.task_id) is not None:
            self._forget_dfget(dt)

    # --- removal --------------------------------------------------------------------------------
    def drop_task(self, task_id: str) -> Task | None:
        """Forget a task: its dfget tasks (their peers are marked service-down), progress and record."""
        with self.lock:
            for dt in self.dfget_tasks.for_task(task_id):
                self.delete_dfget_task(dt)
                self.peers.mark_down(dt.peer_id)
            self.progress.delete_task(task_id)
            self.signals.notify(task_id)
            task = self.tasks.delete(task_id)
            if task is not None:
                self.metrics.tasks.labels(task.cdn_status).dec()
            return task

    def drop_peer(self, peer_id: str) -> bool:
        """Forget a peer with its dfget tasks, progress and blacklist entries."""
        with self.lock:
            for dt in self.dfget_tasks.for_peer(peer_id):
                self.delete_dfget_task(dt)
            self.progress.delete_peer(peer_id)
            for task_id in list(self.progress.tasks):
                self.signals.notify(task_id)
            return self.peers.delete(peer_id) is not None
