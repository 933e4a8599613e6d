"""Event triggers: a pushed image starts a run of every enabled event policy whose filters match it.

The composition root calls :meth:`PolicyEventRouter.on_event` from the webhook sink with each
``webhooks.events.ImageEvent``. As in Harbor, only tagged pushes count and only the pushed tag is preheated.
"""
from __future__ import annotations

import logging

from .matcher import policy_matches
from .models import TRIGGER_EVENT

log = logging.getLogger(__name__)


class PolicyEventRouter:
    def __init__(self, store, runner):
        self.store = store
        self.runner = runner

    def matching(self, event) -> list:
        if getattr(event, "action", "push") != "push" or not event.tag:
            return []
        return [p for p in self.store.list()
                if p.enabled and p.triggers.event and policy_matches(p, event.registry, event.repository, event.tag)]

    def on_event(self, event) -> list:
        """Start runs for ``event``; returns the started run records (possibly none)."""
        runs = []
        for policy in self.matching(event):
            try:
                runs.append(self.runner.start(policy.id, TRIGGER_EVENT, images=[(event.repository, event.tag)]))
            except Exception:                               # noqa: BLE001 - one policy never blocks the others
                log.exception("event run failed to start policy=%s image=%s", policy.id, event.image)
        if runs:
            log.info("event runs started image=%s policies=%d", event.image, len(runs))
        return runs
