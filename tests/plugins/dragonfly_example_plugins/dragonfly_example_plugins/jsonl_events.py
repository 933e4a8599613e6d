"""``jsonl-file``: an event sink appending every image event as one JSON line to ``<home_dir>/events.jsonl``.

What a site would use to feed its own audit log or message bus from Harbor and registry pushes. It implements
the ``preheat_image(event)`` sink a ``dragonfly.event_sinks`` plug-in returns.
"""
from __future__ import annotations

import json
import os
import threading


class JsonLinesSink:
    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()

    def preheat_image(self, event) -> None:
        line = json.dumps(event.to_dict(), sort_keys=True) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line)


def create(config) -> JsonLinesSink:
    """The entry point: the supernode calls it with its config."""
    os.makedirs(config.home_dir, exist_ok=True)
    return JsonLinesSink(os.path.join(config.home_dir, "events.jsonl"))
