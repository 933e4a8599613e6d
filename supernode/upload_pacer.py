"""Pace the piece server just under the supernode's uplink.

When the piece server sends as fast as TCP allows, the supernode's egress queue stays full: the
ACKs of its own downloads from the origin queue (and drop) behind piece data, and the CDN fills
slower than the origin could send. Pacing every connection of the piece server together a few
percent under the uplink keeps that queue short (``upload_rate``, Dragonfly's ``link_limit``-like
knob; 0 = unpaced).

:class:`Pacer` is a shared virtual clock (GCRA): each caller reserves ``n / rate`` seconds after
the previous reservation and sleeps until its slot, at most ``burst`` bytes early. Reserving
never loops and the lock is never held while sleeping, so callers are served in arrival order.
Under gevent ``time.sleep`` is cooperative.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Optional

PACE_STEP = 256 << 10        # bytes sent per reservation when paced: short bursts into the egress queue
DEFAULT_BURST = 512 << 10    # bytes a caller may run ahead of the paced schedule


class Pacer:
    def __init__(self, rate: int, burst: int = DEFAULT_BURST, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if rate <= 0:
            raise ValueError("pacing rate must be positive")
        self.rate, self.burst = float(rate), max(0, burst)
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._tat = 0.0              # when the data reserved so far is due to have left

    def acquire(self, n: int) -> float:
        """Wait until ``n`` more bytes may go out; returns the seconds waited."""
        if n <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tat = max(self._tat, now) + n / self.rate
            wait = self._tat - now - self.burst / self.rate
        if wait > 0:
            self._sleep(wait)
            return wait
        return 0.0


def pacer_from_config(config) -> Optional[Pacer]:
    """The piece server's pacer, or None when ``upload_rate`` is 0."""
    rate = int(getattr(config, "upload_rate", 0) or 0)
    return Pacer(rate) if rate > 0 else None
