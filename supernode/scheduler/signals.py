"""Wake-ups for held ``/peer/task`` calls: a 602 is held until the task's progress changes.

A client that has nothing to fetch right now would otherwise ask again after a back-off of its
own, so a piece that the CDN has just written (or a peer has just reported) waits for the next
question. Instead the supernode holds the reply for up to ``pull_hold`` seconds and schedules
again the moment something changes for that task: a new CDN piece, a piece success or failure,
a supernode slot freed (a send ended: every task's calls wake when the slots are shared), the CDN
finishing or failing, the task being dropped.

The event a call waits on must be taken while the state lock is held (the same section that
found nothing to hand out), so that a change made right after the lock is released still wakes it.
"""
from __future__ import annotations

import threading


class TaskSignals:
    def __init__(self):
        self._events: dict[str, threading.Event] = {}

    def event(self, task_id: str) -> threading.Event:
        """The event the next change of ``task_id`` sets (take it with the state lock held)."""
        ev = self._events.get(task_id)
        if ev is None:
            ev = self._events[task_id] = threading.Event()
        return ev

    def notify(self, task_id: str) -> None:
        """Wake every call held on ``task_id``."""
        ev = self._events.pop(task_id, None)
        if ev is not None:
            ev.set()

    def notify_all(self) -> None:
        """Wake every held call of every task (a shared resource, the supernode's send slots, was freed)."""
        events, self._events = self._events, {}
        for ev in events.values():
            ev.set()
