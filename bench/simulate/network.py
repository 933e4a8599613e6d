"""The simulated network: an event queue, hosts with an uplink and a downlink, and piece transfers sharing them.

A transfer's rate is ``min(uplink of its source / transfers it sends, downlink of its receiver / transfers it
receives)``; a start or end re-rates only the transfers on those two links (at most the peers' piece limits),
so an event costs a few operations whatever the number of hosts. Latency: every host has a one-way delay to
the network; a message between two hosts takes the sum of theirs.
"""
from __future__ import annotations

import heapq
import itertools


class EventQueue:
    def __init__(self):
        self.now = 0.0
        self._heap: list = []
        self._seq = itertools.count()

    def at(self, when: float, fn, *args) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), fn, args))

    def after(self, delay: float, fn, *args) -> None:
        self.at(self.now + delay, fn, *args)

    def run(self, until: float = float("inf")) -> None:
        heap = self._heap
        while heap and heap[0][0] <= until:
            when, _, fn, args = heapq.heappop(heap)
            self.now = when
            fn(*args)

    def __len__(self):
        return len(self._heap)


class Link:
    """One host's network attachment."""

    __slots__ = ("up", "down", "latency", "sending", "receiving")

    def __init__(self, up: float, down: float, latency: float):
        self.up, self.down, self.latency = up, down, latency      # bytes/s, bytes/s, seconds one way
        self.sending: set = set()
        self.receiving: set = set()


class Transfer:
    __slots__ = ("src", "dst", "size", "left", "rate", "since", "version", "on_done", "meta")

    def __init__(self, src: Link, dst: Link, size: int, on_done, meta):
        self.src, self.dst, self.size, self.left = src, dst, size, float(size)
        self.rate, self.since, self.version = 0.0, 0.0, 0
        self.on_done, self.meta = on_done, meta


class Network:
    def __init__(self, events: EventQueue):
        self.events = events
        self.active = 0

    def start(self, src: Link, dst: Link, size: int, on_done, meta=None) -> Transfer:
        t = Transfer(src, dst, size, on_done, meta)
        now = self.events.now
        touched = src.sending | dst.receiving
        for x in touched:
            self._settle(x, now)
        src.sending.add(t)
        dst.receiving.add(t)
        t.since = now
        self.active += 1
        touched.add(t)
        self._rerate(touched)
        return t

    def cancel(self, t: Transfer) -> int:
        """Stop ``t`` now; returns the bytes it had moved."""
        if t not in t.src.sending:
            return 0
        self._settle(t, self.events.now)
        self._remove(t)
        return t.size - int(t.left)

    def _remove(self, t: Transfer) -> None:
        now = self.events.now
        t.src.sending.discard(t)
        t.dst.receiving.discard(t)
        t.version += 1
        self.active -= 1
        touched = t.src.sending | t.dst.receiving
        for x in touched:
            self._settle(x, now)
        self._rerate(touched)

    @staticmethod
    def _settle(t: Transfer, now: float) -> None:
        t.left = max(0.0, t.left - t.rate * (now - t.since))
        t.since = now

    def _rerate(self, transfers) -> None:
        now = self.events.now
        for t in transfers:
            rate = min(t.src.up / len(t.src.sending), t.dst.down / len(t.dst.receiving))
            if rate == t.rate:
                continue                    # its finish event still holds
            t.rate = rate
            t.version += 1
            self.events.at(now + t.left / rate, self._finish, t, t.version)

    def _finish(self, t: Transfer, version: int) -> None:
        if version != t.version or t not in t.src.sending:
            return                          # re-rated or cancelled since this event was queued
        self._settle(t, self.events.now)
        self._remove(t)
        t.on_done(t)
