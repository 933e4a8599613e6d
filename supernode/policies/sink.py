"""PolicySink: the webhook dispatcher's sink that also routes each pushed image to event policies.

Wraps another sink (the plain webhook preheat, or ``None`` when only policies should react). Each push
(by ``ImageEvent.dedup_key()``) starts policy runs once, even when the dispatcher retries the delivery
because the inner sink failed.
"""
from __future__ import annotations

import logging

from dfcommon.recent_keys import RecentKeys

log = logging.getLogger(__name__)


class PolicySink:
    def __init__(self, inner, policies, remember: int = 4096):
        """``policies`` has ``on_event(event)`` (a PolicyService or PolicyEventRouter)."""
        self.inner = inner
        self.policies = policies
        self._recent = RecentKeys(remember)

    def preheat_image(self, event) -> None:
        if self._recent.first_time(event.dedup_key()):
            try:
                self.policies.on_event(event)
            except Exception:                       # noqa: BLE001 - policies never block the plain preheat
                log.exception("policy routing failed image=%s", event.image)
        if self.inner is not None:
            self.inner.preheat_image(event)
