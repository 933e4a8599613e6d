"""Disk GC of the CDN store, driven by its free space (Dragonfly's young / full GC).

free > young_gc_threshold: nothing. free <= full_gc_threshold: every task not in use goes.
Otherwise a young round deletes ``ceil(n * clean_ratio / 10)`` of the n candidates: first the
"gap" tasks, longest idle first, then the "interval" tasks (accessed periodically: idle time
within their access interval plus ``interval_threshold``), largest first.
"""
from __future__ import annotations

import logging
import math
import time

from .layout import DOWNLOAD, data_key, task_id_of_key

log = logging.getLogger(__name__)


class DiskGc:
    def __init__(self, storage, metas, config, metrics=None, delete=None, free_space=None, clock=time.time):
        """``free_space()`` returns the free bytes of the store (default: the driver's own measure);
        ``delete(task_id)`` removes a task's files (default: delete the keys directly)."""
        self.storage = storage
        self.metas = metas
        self.config = config
        self.metrics = metrics
        self.free_space = free_space or storage.free_space
        self.delete = delete or self._delete_files
        self.clock = clock

    def _delete_files(self, task_id: str) -> None:
        for key in self.storage.list(data_key(task_id)):
            self.storage.delete(key)

    def task_ids(self) -> set[str]:
        ids = set()
        for key in self.storage.list(DOWNLOAD + "/"):
            tid = task_id_of_key(key)
            if tid:
                ids.add(tid)
        return ids

    def select(self, in_use: set[str]) -> list[str]:
        free = self.free_space()
        if free is None or free > self.config.young_gc_threshold:
            return []
        candidates = sorted(self.task_ids() - set(in_use))
        if free <= self.config.full_gc_threshold:
            log.info("full disk gc free=%d candidates=%d", free, len(candidates))
            return candidates
        now_ms = int(self.clock() * 1000)
        threshold_ms = int(self.config.interval_threshold * 1000)
        gap_tasks, interval_tasks = [], []
        for tid in candidates:
            meta = self.metas.read(tid)
            size = self._size(tid)
            access = meta.accessTime if meta is not None and meta.accessTime else self._mtime_ms(tid)
            gap = now_ms - access
            if meta is not None and meta.interval > 0 and gap <= meta.interval + threshold_ms:
                interval_tasks.append((-size, tid))
            else:
                gap_tasks.append((-gap, tid))
        ordered = [t for _, t in sorted(gap_tasks)] + [t for _, t in sorted(interval_tasks)]
        count = math.ceil(len(ordered) * self.config.clean_ratio / 10)
        log.info("young disk gc free=%d candidates=%d deleting=%d", free, len(ordered), count)
        return ordered[:count]

    def run(self, in_use: set[str]) -> int:
        victims = self.select(in_use)
        for tid in victims:
            self.delete(tid)
        if self.metrics is not None:
            self.metrics.gc_disks.inc()
            self.metrics.last_gc_disks.set(self.clock())
        return len(victims)

    def _size(self, tid: str) -> int:
        try:
            return self.storage.stat(data_key(tid)).size
        except Exception:
            return 0

    def _mtime_ms(self, tid: str) -> int:
        for key in self.storage.list(data_key(tid)):
            try:
                return int(self.storage.stat(key).mtime * 1000)
            except Exception:
                continue
        return 0
