"""Event sink plug-ins: every image event the webhook receivers accept also goes to the sinks named in
``webhooks.sinks`` (entry-point group ``dragonfly.event_sinks``, see docs/plugins.md).

An entry point is a factory ``create(config) -> sink`` called with the supernode config; a sink has
``preheat_image(event)`` and receives each :class:`webhooks.events.ImageEvent` once (by its dedup key), before
the built-in preheat sink, whatever that sink does with it: when the preheat fails and the dispatcher retries the
delivery, the plug-ins are not called again. A sink that raises is logged and counted, never retried, and never
holds up the preheat.
"""
from __future__ import annotations

import logging

from dfcommon import plugins
from dfcommon.recent_keys import RecentKeys

log = logging.getLogger(__name__)

GROUP = "dragonfly.event_sinks"


def build_event_sinks(config) -> list:
    """``(name, sink)`` for every name in ``webhooks.sinks``; an unknown name is a ConfigError listing the
    installed ones."""
    names = list(getattr(getattr(config, "webhooks", None), "sinks", None) or [])
    return [(name, plugins.load(GROUP, name, setting="webhooks.sinks")(config)) for name in names]


class FanoutSink:
    """Every plug-in sink once per event, then the built-in sink (whose failure is the dispatcher's to retry)."""

    def __init__(self, inner, sinks, on_error=None, remember: int = 4096):
        self.inner = inner
        self.sinks = list(sinks)
        self.on_error = on_error or (lambda name: None)
        self._recent = RecentKeys(remember)

    def preheat_image(self, event) -> None:
        if self.sinks and self._recent.first_time(event.dedup_key()):
            self._to_plugins(event)
        if self.inner is not None:
            self.inner.preheat_image(event)

    def _to_plugins(self, event) -> None:
        for name, sink in self.sinks:
            try:
                sink.preheat_image(event)
            except Exception as e:      # noqa: BLE001 - a plug-in never breaks or repeats a delivery
                log.warning("event sink failed sink=%s image=%s/%s error=%s", name, event.registry,
                            event.repository, type(e).__name__)
                self.on_error(name)
