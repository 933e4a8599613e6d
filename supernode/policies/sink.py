"""PolicySink: the webhook dispatcher's sink that also routes each pushed image to event policies.

Wraps another sink (the plain webhook preheat, or ``None`` when only policies should react). Each push
(by ``ImageEvent.dedup_key()``) starts policy runs once, even when the dispatcher retries the delivery
because the inner sink failed.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict

log = logging.getLogger(__name__)


class PolicySink:
    def __init__(self, inner, policies, remember: int = 4096):
        """``policies`` has ``on_event(event)`` (a PolicyService or PolicyEventRouter)."""
        self.inner = inner
        self.policies = policies
        self.remember = remember
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def _first_time(self, key: str) -> bool:
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return False
            self._seen[key] = None
            while len(self._seen) > self.remember:
                self._seen.popitem(last=False)
            return True

    def preheat_image(self, event) -> None:
        if self._first_time(event.dedup_key()):
            try:
                self.policies.on_event(event)
            except Exception:                       # noqa: BLE001 - policies never block the plain preheat
                log.exception("policy routing failed image=%s", event.image)
        if self.inner is not None:
            self.inner.preheat_image(event)
