"""Drains the webhook work queue into the preheat seam.

``PreheatSink.preheat_image(event)`` is the one call the preheat engine implements. A
call that raises is retried with exponential backoff (``backoff * 2**(attempt-1)``,
capped at ``backoff_max``); after ``max_attempts`` failed attempts (a queue setting)
the item stays in the queue as a dead letter for an operator to inspect or requeue.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Protocol, runtime_checkable

from .events import ImageEvent
from .queue import DEAD, SqliteWorkQueue, WorkItem

log = logging.getLogger(__name__)


@runtime_checkable
class PreheatSink(Protocol):
    def preheat_image(self, event: ImageEvent) -> None:
        """Start (or do) the preheat of one pushed image; raise to have it retried."""


class Dispatcher:
    def __init__(self, queue: SqliteWorkQueue, sink: PreheatSink, *, workers: int = 1, batch: int = 8,
                 poll_interval: float = 1.0, backoff: float = 2.0, backoff_max: float = 300.0,
                 purge_interval: float = 60.0):
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.queue = queue
        self.sink = sink
        self.workers = workers
        self.batch = max(1, batch)
        self.poll_interval = poll_interval
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.purge_interval = purge_interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_purge = 0.0
        queue.add_listener(self.wake)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> "Dispatcher":
        if self._threads:
            return self
        self._stop.clear()
        for n in range(self.workers):
            t = threading.Thread(target=self._run, name=f"webhook-dispatcher-{n}", daemon=True)
            t.start()
            self._threads.append(t)
        log.info("webhook dispatcher started workers=%d", self.workers)
        return self

    def request_stop(self) -> None:
        """Ask the workers to stop without waiting: a sink call that fails from now on hands its item
        back to the queue unchanged (the host process is going away, the work is not at fault)."""
        self._stop.set()
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self.request_stop()
        for t in self._threads:
            t.join(timeout)
        self._threads = []
        log.info("webhook dispatcher stopped")

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def wake(self) -> None:
        self._wake.set()

    # -- work -------------------------------------------------------------------------------
    def retry_delay(self, attempts: int) -> float:
        return min(self.backoff_max, self.backoff * (2 ** max(0, attempts - 1)))

    def run_once(self) -> int:
        """Claim and handle one batch; return how many items were handled."""
        items = self.queue.claim(self.batch)
        for n, item in enumerate(items):
            if self._stop.is_set():
                for rest in items[n:]:      # hand back untouched: no attempt counted
                    self.queue.release(rest.id)
                return n
            self._handle(item)
        return len(items)

    def _handle(self, item: WorkItem) -> None:
        ev = item.event
        try:
            self.sink.preheat_image(ev)
        except Exception as e:  # the sink's failure is data here: retried, then dead-lettered
            if self._stop.is_set():
                self.queue.release(item.id)
                log.info("preheat handed back at stop image=%s digest=%s error=%s", ev.image, ev.digest, e)
                return
            state = self.queue.fail(item.id, f"{type(e).__name__}: {e}", self.retry_delay(item.attempts))
            level = logging.ERROR if state == DEAD else logging.WARNING
            log.log(level, "preheat failed image=%s digest=%s attempt=%d state=%s error=%s",
                    ev.image, ev.digest, item.attempts, state, e)
            return
        self.queue.ack(item.id)
        log.info("preheat dispatched image=%s digest=%s source=%s", ev.image, ev.digest, ev.source)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                handled = self.run_once()
                self._maybe_purge()
            except Exception:
                log.exception("webhook dispatcher loop error")
                handled = 0
            if handled:
                continue
            self._wake.wait(self._idle_wait())

    def _idle_wait(self) -> float:
        try:
            due = self.queue.next_due()
        except Exception:
            return self.poll_interval
        if due is None:
            return self.poll_interval
        return max(0.01, min(self.poll_interval, due - time.time()))

    def _maybe_purge(self) -> None:
        now = time.monotonic()
        if now - self._last_purge >= self.purge_interval:
            self._last_purge = now
            n = self.queue.purge()
            if n:
                log.debug("webhook queue purged items=%d", n)
