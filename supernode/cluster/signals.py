"""Held 602 replies woken across members: a client held on member B (``pull_hold``) is scheduled again as soon
as member A's CDN writes a piece or a peer reports one to A.

:class:`ClusterSignals` is the member's :class:`~supernode.scheduler.signals.TaskSignals` (the same calls): a
local ``notify`` wakes this member's held calls at once, as alone, and is also published on the Redis channel
``<prefix>:signals`` (message ``<member id> <task id>``, ``*`` for every task). A subscriber thread wakes
this member's held calls of each task another member published. The publishing is done by its own thread
from a set of pending task ids, so a burst of changes of one task is one message and no Redis round trip is
made under the scheduler's lock; the subscriber blocks in Redis (``get_message`` with a timeout), it does not
poll in a loop.

Redis down: changes are not published (held calls of other members then end after ``pull_hold``, as before
this existed), failures are logged once per interval; the subscriber reconnects every second and, once
subscribed again, wakes every held call (it may have missed changes).
"""
from __future__ import annotations

import logging
import threading

from supernode.scheduler.signals import TaskSignals

from .outage import REDIS_ERRORS

log = logging.getLogger(__name__)
ALL = "*"
RECONNECT_AFTER = 1.0


class ClusterSignals(TaskSignals):
    def __init__(self, client, keys, member_id: str, outage, metrics=None):
        super().__init__()
        self.r, self.channel, self.me, self.outage = client, keys.g("signals"), member_id, outage
        self.metrics = metrics
        self._pending: set[str] = set()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.woken_remote = 0           # wake-ups that came from another member (for tests and logs)
        self._subscribed = threading.Event()

    # --- the scheduler's calls ----------------------------------------------------------------
    def notify(self, task_id: str) -> None:
        super().notify(task_id)
        self._publish(task_id)

    def notify_all(self) -> None:
        super().notify_all()
        self._publish(ALL)

    def _publish(self, what: str) -> None:
        with self._cond:
            self._pending.add(what)
            self._cond.notify()

    # --- threads ------------------------------------------------------------------------------
    def start(self) -> None:
        for target, name in ((self._publisher, "cluster-signals-pub"), (self._subscriber, "cluster-signals-sub")):
            th = threading.Thread(target=target, name=name, daemon=True)
            th.start()
            self._threads.append(th)

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify()
        for th in self._threads:
            th.join(timeout=3)

    def _publisher(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                while not self._pending and not self._stop.is_set():
                    self._cond.wait()
                batch, self._pending = self._pending, set()
            if self._stop.is_set():
                return
            if ALL in batch:
                batch = {ALL}
            try:
                p = self.r.pipeline(transaction=False)
                for what in batch:
                    p.publish(self.channel, f"{self.me} {what}")
                p.execute()
            except REDIS_ERRORS as e:
                self.outage.failed("wake-up of other members", e)
                self._stop.wait(RECONNECT_AFTER)       # changes meanwhile are coalesced; held calls time out

    def _subscriber(self) -> None:
        while not self._stop.is_set():
            pubsub = self.r.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                if self._subscribed.is_set():
                    super().notify_all()            # subscribed again: changes may have been missed
                self._subscribed.set()
                while not self._stop.is_set():
                    msg = pubsub.get_message(timeout=1.0)
                    if msg is not None and msg.get("type") == "message":
                        self._deliver(msg.get("data") or "")
            except REDIS_ERRORS as e:
                self.outage.failed("wake-ups from other members", e)
                self._stop.wait(RECONNECT_AFTER)
            finally:
                try:
                    pubsub.close()
                except REDIS_ERRORS:
                    pass

    def _deliver(self, data: str) -> None:
        member, _, what = data.partition(" ")
        if member == self.me or not what:
            return
        self.woken_remote += 1
        if what == ALL:
            super().notify_all()
        else:
            super().notify(what)

    def wait_subscribed(self, timeout: float) -> bool:
        return self._subscribed.wait(timeout)
