"""Garbage collection of the supernode: idle tasks, departed peers and the CDN disk.

- tasks idle longer than ``task_expire_time``: their dfget tasks go (peers marked service-down),
  the CDN forgets them without deleting files (non-full), then the record goes;
- peers whose service went down more than ``peer_gc_delay`` ago: removed with progress and blacklist;
- disk: ``cdn.disk_gc(in_use=<task ids in memory>)`` every ``gc_disk_interval``.
Loops run in threads (greenlets once gevent has patched threading) and stop on :meth:`stop`.
"""
from __future__ import annotations

import logging
import threading
import time

from supernode.cdn.types import RUNNING

log = logging.getLogger(__name__)


class GarbageCollector:
    def __init__(self, config, services, clock=time.time):
        self.config = config
        self.services = services
        self.clock = clock
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- one pass each --------------------------------------------------------------------------
    def gc_tasks(self) -> int:
        st = self.services.state
        deadline = self.clock() - self.config.task_expire_time
        done = 0
        for task in st.tasks.idle_since(deadline):
            if task.cdn_status == RUNNING:
                continue                       # a download in progress is never collected
            if self.services.manager.delete_task(task.id, full=False):
                done += 1
                log.info("gc task=%s idle_for=%.0fs", task.id, self.clock() - task.access_time)
        if done:
            self.services.metrics.gc_tasks.inc(done)
        return done

    def gc_peers(self) -> int:
        st = self.services.state
        done = 0
        for peer_id in st.peers.down_before(self.clock() - self.config.peer_gc_delay):
            if st.drop_peer(peer_id):
                done += 1
                log.info("gc peer=%s", peer_id)
        if done:
            self.services.metrics.gc_peers.inc(done)
        return done

    def gc_disk(self) -> int:
        return self.services.cdn.disk_gc(in_use=self.services.state.tasks.ids())

    def gc_meta(self) -> tuple[int, int]:
        return self.gc_tasks(), self.gc_peers()

    # --- loops ----------------------------------------------------------------------------------
    def _loop(self, name: str, interval: float, step) -> None:
        if self._stop.wait(self.config.gc_initial_delay):
            return
        while True:
            try:
                step()
            except Exception:
                log.exception("gc %s failed", name)
            if self._stop.wait(interval):
                return

    def start(self) -> None:
        for name, interval, step in (("meta", self.config.gc_meta_interval, self.gc_meta),
                                     ("disk", self.config.gc_disk_interval, self.gc_disk)):
            t = threading.Thread(target=self._loop, args=(name, interval, step), name=f"gc-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
        self._threads = []
