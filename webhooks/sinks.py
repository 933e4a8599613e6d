"""PreheatSink implementations available before the preheat engine exists."""
from __future__ import annotations

import logging
import threading

from .events import ImageEvent

log = logging.getLogger(__name__)


class RecordingSink:
    """A real PreheatSink that records every event it is given, in order.

    Used until the preheat engine exists (and by tests to observe what the dispatcher
    delivers). ``fail_times`` makes the first N calls for a digest raise, to exercise
    retries; ``wait_for`` blocks until a number of events has been recorded.
    """

    def __init__(self, fail_times: int = 0):
        self.events: list[ImageEvent] = []
        self.calls = 0
        self.fail_times = fail_times
        self._failures: dict[str, int] = {}
        self._cond = threading.Condition()

    def preheat_image(self, event: ImageEvent) -> None:
        with self._cond:
            self.calls += 1
            seen = self._failures.get(event.dedup_key(), 0)
            if seen < self.fail_times:
                self._failures[event.dedup_key()] = seen + 1
                raise RuntimeError(f"recording sink: planned failure {seen + 1} for {event.image}")
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.events) >= count, timeout)


class LoggingSink:
    """A PreheatSink that only logs: what the supernode runs with no preheat engine configured."""

    def preheat_image(self, event: ImageEvent) -> None:
        log.info("image pushed (no preheat engine) image=%s digest=%s source=%s operator=%s",
                 event.image, event.digest, event.source, event.operator)
