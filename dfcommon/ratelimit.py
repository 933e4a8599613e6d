"""A token bucket shared by the streams it limits (gevent-friendly: it sleeps with time.sleep)."""
from __future__ import annotations

import threading
import time


class TokenBucket:
    """Limit throughput to ``rate`` bytes/s; ``rate <= 0`` means unlimited.

    ``acquire(n)`` blocks until ``n`` bytes may pass. The bucket holds at most one
    second of tokens (Dragonfly's capacity = rate), so bursts stay short.
    """

    def __init__(self, rate: int):
        self._lock = threading.Lock()
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
                    return
                wait = (min(n, self.rate) - self._tokens) / self.rate
            time.sleep(max(wait, 0.001))
