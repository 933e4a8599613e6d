"""Redis outages: one log line per interval (not one per call), and the 503 the API answers meanwhile."""
from __future__ import annotations

import logging
import threading
import time

import redis

from dfcommon.errors import DfError

log = logging.getLogger(__name__)
REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, OSError)


class OutageLog:
    """Logs a Redis failure at most once per ``interval`` seconds, and once when Redis answers again."""

    def __init__(self, interval: float = 10.0, clock=time.monotonic):
        self.interval, self._clock = interval, clock
        self._last = None           # when the last failure line was written (None: Redis is up)
        self._missed = 0
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self._last is not None

    def failed(self, what: str, err: Exception) -> None:
        with self._lock:
            now = self._clock()
            if self._last is not None and now - self._last < self.interval:
                self._missed += 1
                return
            missed, self._missed, self._last = self._missed, 0, now
        log.error("redis unreachable during %s: %s (%d more failures since the last line)", what, err, missed)

    def ok(self) -> None:
        if self._last is None:
            return
        with self._lock:
            was, self._last, self._missed = self._last, None, 0
        if was is not None:
            log.warning("redis reachable again")


def unavailable(err: Exception | None = None) -> DfError:
    return DfError("UNAVAILABLE", "the cluster's shared state (Redis) is unreachable; try again or use another "
                   "supernode")
