"""Clean-up of served files: the periodic expiry walk and the release of everything on exit."""
from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass

from .notify import ServiceDownNotifier
from .service import UploadService
from .tasks import TaskRecord

log = logging.getLogger(__name__)


UNCLAIMED_GRACE = 60.0      # a file no task claims, modified this recently, may still be being written


@dataclass(frozen=True)
class DiskLimits:
    """Thresholds of the data dir, as the supernode's disk GC has: 0 turns one off.

    ``max_used``: bytes the served files may take together; ``min_free``: free bytes the disk keeps.
    """
    max_used: int = 0
    min_free: int = 0

    @property
    def enabled(self) -> bool:
        return self.max_used > 0 or self.min_free > 0


class UploadGC:
    """Deletes what the host no longer needs to serve.

    A file is expired when ``max(last access, mtime)`` is older than ``expire`` seconds.
    Files of running tasks (registered by ``/check``, not yet finished) are kept; files of
    finished tasks are deleted after ``/peer/service/down`` reaches their supernode; files
    no task claims are deleted once their mtime is older than ``expire``. Sub-directories
    and non-regular files are left alone.

    With ``limits`` set, the same walk then frees space before expiry: while the files use more
    than ``max_used`` bytes or the disk has less than ``min_free`` free, the least recently used
    file goes first. Never a file of a running task, one being served now (a piece body is going
    out), or an unclaimed file modified in the last minute (a download may be writing it).
    """

    def __init__(self, service: UploadService, notifier: ServiceDownNotifier, expire: float,
                 clock=time.time, limits: DiskLimits | None = None, disk_free=None):
        self.service = service
        self.notifier = notifier
        self.expire = float(expire)
        self.limits = limits or DiskLimits()
        self._clock = clock
        self._disk_free = disk_free or (lambda path: shutil.disk_usage(path).free)
        self.freed_files = 0            # files deleted by the thresholds, since start
        self.freed_bytes = 0

    def _release(self, rec: TaskRecord) -> None:
        if rec.finished:
            self.notifier.service_down(rec.super_node, rec.task_id, rec.cid)
        self.service.delete_file(rec.name)
        self.service.tasks.remove(rec.name)

    def run_once(self) -> list[str]:
        """One walk of the data dir; returns the names deleted."""
        now, deleted, seen = self._clock(), [], set()
        try:
            entries = list(os.scandir(self.service.data_dir))
        except FileNotFoundError:
            entries = []
        for entry in entries:
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                mtime = entry.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue
            name = entry.name
            seen.add(name)
            rec = self.service.tasks.get(name)
            if rec is None:
                if now - mtime > self.expire:
                    self.service.delete_file(name)
                    deleted.append(name)
                    log.info("gc removed unclaimed file file=%s", name)
            elif rec.finished and now - max(rec.access_time, mtime) > self.expire:
                self._release(rec)
                deleted.append(name)
                log.info("gc removed expired file file=%s task=%s", name, rec.task_id)
        for rec in self.service.tasks.snapshot():  # records whose file is gone
            if rec.name not in seen and rec.finished and now - rec.access_time > self.expire:
                self._release(rec)
        if self.limits.enabled:
            deleted += self._enforce_limits(now, set(deleted))
        return deleted

    def _enforce_limits(self, now: float, gone: set[str]) -> list[str]:
        """Delete least recently used files until both thresholds hold (or nothing more may go)."""
        files = []                          # (last use, size, name, record)
        used = 0
        try:
            entries = list(os.scandir(self.service.data_dir))
        except FileNotFoundError:
            return []
        for entry in entries:
            if entry.name in gone:
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            used += st.st_size
            rec = self.service.tasks.get(entry.name)
            if rec is None:
                if now - st.st_mtime < UNCLAIMED_GRACE:
                    continue
                last = st.st_mtime
            elif not rec.finished or rec.serving:
                continue                    # being written, or a body of it is going out
            else:
                last = max(rec.access_time, st.st_mtime)
            files.append((last, st.st_size, entry.name, rec))
        free = self._disk_free(self.service.data_dir) if self.limits.min_free else 0
        over_used = used - self.limits.max_used if self.limits.max_used else 0
        short_free = self.limits.min_free - free if self.limits.min_free else 0
        deleted = []
        for last, size, name, rec in sorted(files, key=lambda f: f[0]):
            if over_used <= 0 and short_free <= 0:
                break
            if rec is not None:
                self._release(rec)
            else:
                self.service.delete_file(name)
            over_used -= size
            short_free -= size
            self.freed_files += 1
            self.freed_bytes += size
            deleted.append(name)
            log.info("gc freed space file=%s bytes=%d idle=%.0fs used_limit=%d free_limit=%d", name, size,
                     now - last, self.limits.max_used, self.limits.min_free)
        if over_used > 0 or short_free > 0:
            log.warning("gc cannot reach the disk limits: every remaining file is in use used=%d free=%d "
                        "used_limit=%d free_limit=%d", used, free, self.limits.max_used, self.limits.min_free)
        return deleted

    def release_all(self) -> None:
        """On exit: service-down for every finished task, delete every registered file."""
        for rec in self.service.tasks.snapshot():
            self._release(rec)
            log.info("released task file=%s task=%s", rec.name, rec.task_id)
