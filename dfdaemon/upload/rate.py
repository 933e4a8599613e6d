"""Host upload bandwidth: one token bucket for every upload and the ``/rate`` grants."""
from __future__ import annotations

import logging
import threading

from dfcommon.ratelimit import TokenBucket

log = logging.getLogger(__name__)


class UploadRate:
    """``total_limit`` bytes/s shared by all uploads and all running downloads (0 = unlimited).

    ``grant`` divides the total among running tasks in proportion to what each asked for:
    when the sum of the running tasks' rates exceeds the total, a task offering ``r`` gets
    ``ceil(r * total / sum)``; otherwise it keeps ``r``.
    """

    def __init__(self, total_limit: int = 0):
        self._lock = threading.Lock()
        self.total_limit = max(int(total_limit or 0), 0)
        self.bucket = TokenBucket(self.total_limit)

    def set_total_limit(self, total_limit: int) -> None:
        """Adopt a new host limit (from ``/check``); values <= 0 leave the current one."""
        total_limit = int(total_limit or 0)
        if total_limit <= 0:
            return
        with self._lock:
            if total_limit != self.total_limit:
                self.total_limit = total_limit
                self.bucket.set_rate(total_limit)
                log.info("upload total limit updated total_limit=%d", total_limit)

    def grant(self, client_rate: int, running_sum: int) -> int:
        total = self.total_limit
        if total <= 0 or running_sum <= total:
            return client_rate
        return -(-client_rate * total // running_sum)

    def acquire(self, n: int) -> None:
        """Block until ``n`` upload bytes may go (no-op when unlimited)."""
        self.bucket.acquire(n)
