"""A token bucket shared by the streams it limits (gevent-friendly: it sleeps with time.sleep)."""
from __future__ import annotations

import threading
import time


class TokenBucket:
    """Limit throughput to ``rate`` bytes/s; ``rate <= 0`` means unlimited.

    ``acquire(n)`` blocks until ``n`` bytes may pass. The bucket holds at most one
    second of tokens (Dragonfly's capacity = rate), so bursts stay short.
    """

    def __init__(self, rate: int, source: str = ""):
        self._lock = threading.Lock()
        self.source = source          # where the rate was set (for the "limit bound" log line)
        self.bytes_passed = 0         # bytes that went through acquire (limited buckets only)
        self.waits = 0                # acquire calls that had to sleep
        self.wait_seconds = 0.0       # total time acquire calls slept
        self.set_rate(rate)

    def set_rate(self, rate: int) -> None:
        with getattr(self, "_lock", threading.Lock()):
            self.rate = int(rate or 0)
            self._tokens = float(self.rate)
            self._stamp = time.monotonic()

    def acquire(self, n: int) -> None:
        if self.rate <= 0 or n <= 0:
            return
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(float(self.rate), self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= min(n, self.rate):
                    self._tokens -= n
                    self.bytes_passed += n
                    return
                wait = (min(n, self.rate) - self._tokens) / self.rate
                self.waits += 1
            slept = time.monotonic()
            time.sleep(max(wait, 0.001))
            with self._lock:
                self.wait_seconds += time.monotonic() - slept
