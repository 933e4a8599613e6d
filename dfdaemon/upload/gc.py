"""Clean-up of served files: the periodic expiry walk and the release of everything on exit."""
from __future__ import annotations

import logging
import os
import time

from .notify import ServiceDownNotifier
from .service import UploadService
from .tasks import TaskRecord

log = logging.getLogger(__name__)


class UploadGC:
    """Deletes what the host no longer needs to serve.

    A file is expired when ``max(last access, mtime)`` is older than ``expire`` seconds.
    Files of running tasks (registered by ``/check``, not yet finished) are kept; files of
    finished tasks are deleted after ``/peer/service/down`` reaches their supernode; files
    no task claims are deleted once their mtime is older than ``expire``. Sub-directories
    and non-regular files are left alone.
    """

    def __init__(self, service: UploadService, notifier: ServiceDownNotifier, expire: float,
                 clock=time.time):
        self.service = service
        self.notifier = notifier
        self.expire = float(expire)
        self._clock = clock

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
        return deleted

    def release_all(self) -> None:
        """On exit: service-down for every finished task, delete every registered file."""
        for rec in self.service.tasks.snapshot():
            self._release(rec)
            log.info("released task file=%s task=%s", rec.name, rec.task_id)
