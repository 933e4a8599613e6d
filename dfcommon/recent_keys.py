"""A bounded, thread-safe memory of recently seen keys: ``first_time(key)`` is True once per key while it is
remembered (the oldest keys are forgotten beyond ``remember``); ``forget(key)`` undoes it. A supernode cluster
shares the same interface in Redis (``supernode.cluster.seen_once.SharedSeenOnce``)."""
from __future__ import annotations

import threading
from collections import OrderedDict


class RecentKeys:
    def __init__(self, remember: int = 4096):
        self.remember = remember
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return False
            self._seen[key] = None
            while len(self._seen) > self.remember:
                self._seen.popitem(last=False)
            return True

    def forget(self, key: str) -> None:
        with self._lock:
            self._seen.pop(key, None)
