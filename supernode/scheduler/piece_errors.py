"""Piece error handling: when a peer says the supernode's copy of a piece is missing or corrupt,
re-check it in the background (a bounded queue, one check in flight per task, a few workers)."""
from __future__ import annotations

import logging
import queue
import threading

log = logging.getLogger(__name__)


class PieceErrorQueue:
    def __init__(self, cdn, on_bad_task, workers: int = 4, size: int = 100):
        self.cdn = cdn
        self.on_bad_task = on_bad_task        # called with the task id when the CDN copy was bad
        self.workers = workers
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._closed = False

    def submit(self, task_id: str, piece_num: int, expected_md5: str) -> bool:
        """Queue a check; False when dropped (queue full, closed, or this task already being checked)."""
        with self._lock:
            if self._closed or task_id in self._in_flight:
                return False
            self._start()
            try:
                self._queue.put_nowait((task_id, piece_num, expected_md5))
            except queue.Full:
                log.warning("piece error queue full, dropped task=%s piece=%d", task_id, piece_num)
                return False
            self._in_flight.add(task_id)
            return True

    def _start(self) -> None:
        while len(self._threads) < self.workers:
            t = threading.Thread(target=self._work, name="piece-error", daemon=True)
            t.start()
            self._threads.append(t)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            task_id, piece_num, expected = item
            try:
                if not self.cdn.check_piece(task_id, piece_num, expected):
                    log.warning("supernode copy bad, task dropped task=%s piece=%d", task_id, piece_num)
                    self.on_bad_task(task_id)
            except Exception:
                log.exception("piece check failed task=%s piece=%d", task_id, piece_num)
            finally:
                with self._lock:
                    self._in_flight.discard(task_id)
                self._queue.task_done()

    def join(self) -> None:
        """Wait until every queued check is done."""
        self._queue.join()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(None)
