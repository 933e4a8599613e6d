"""Rarest-first without sorting: a task's pieces grouped by their number of copies, kept incrementally.

Per task, for every piece the CDN holds: its holders (peers that reported it written) and the clients
fetching it now. The pieces are kept in levels, one bit mask of pieces per level:

- ``copies`` levels, keyed ``(holders + in flight, 0 if some peer holds it else 1)``: the order of the
  ``rarest-first`` policy;
- ``held`` levels, keyed by holders only: the order of the ``dragonfly`` policy.

A change of one count moves one bit between two levels (a few big-int operations on a mask of
``pieces / 64`` words). ``walk`` yields the pieces a client wants in the policy's order, level by level and,
inside a level, outward from the centre of the client's running pieces (equal distances in random order):
it stops as soon as the caller has enough, so a call costs the levels it passes and the pieces it hands out,
not the number of pieces or peers of the task.
"""
from __future__ import annotations

import random
from bisect import bisect_left, insort
from typing import Callable, Iterator


class _Levels:
    """Non-empty levels: key -> bit mask of pieces, and the keys in ascending order."""

    __slots__ = ("masks", "keys")

    def __init__(self):
        self.masks: dict = {}
        self.keys: list = []

    def add(self, key, bit: int) -> None:
        m = self.masks.get(key)
        if m is None:
            self.masks[key] = bit
            insort(self.keys, key)
        else:
            self.masks[key] = m | bit

    def remove(self, key, bit: int) -> None:
        m = self.masks[key] & ~bit
        if m:
            self.masks[key] = m
        else:
            del self.masks[key]
            del self.keys[bisect_left(self.keys, key)]


class RarityIndex:
    def __init__(self, held: dict[int, int] | None = None, flight: dict[int, int] | None = None):
        self.held: dict[int, int] = dict(held or {})        # piece -> holders
        self.flight: dict[int, int] = dict(flight or {})    # piece -> clients fetching it
        self.sn = 0                                         # bit mask of the pieces the CDN holds
        self.copies = _Levels()
        self.by_held = _Levels()

    def _keys(self, piece: int) -> tuple[tuple[int, int], int]:
        h = self.held.get(piece, 0)
        return (h + self.flight.get(piece, 0), 0 if h else 1), h

    def add_sn(self, piece: int) -> None:
        bit = 1 << piece
        if self.sn & bit:
            return
        self.sn |= bit
        ck, hk = self._keys(piece)
        self.copies.add(ck, bit)
        self.by_held.add(hk, bit)

    def _change(self, counts: dict[int, int], piece: int, delta: int) -> None:
        bit = 1 << piece
        listed = bool(self.sn & bit)
        if listed:
            ck, hk = self._keys(piece)
        n = counts.get(piece, 0) + delta
        if n > 0:
            counts[piece] = n
        else:
            counts.pop(piece, None)
        if listed:
            ck2, hk2 = self._keys(piece)
            if ck2 != ck:
                self.copies.remove(ck, bit)
                self.copies.add(ck2, bit)
            if hk2 != hk:
                self.by_held.remove(hk, bit)
                self.by_held.add(hk2, bit)

    def held_changed(self, piece: int, delta: int) -> None:
        self._change(self.held, piece, delta)

    def flight_changed(self, piece: int, delta: int) -> None:
        self._change(self.flight, piece, delta)

    @staticmethod
    def unheld(kind: str, key) -> bool:
        """Whether the pieces of level ``key`` have no holder (only the supernode can send them)."""
        return key[1] == 1 if kind == "copies" else key == 0

    def walk(self, kind: str, wanted: Callable[[], int], center: int, rng: random.Random,
             skip: Callable[[object], bool] | None = None) -> Iterator[int]:
        """Pieces in ``wanted()`` (a bit mask, read again at every level: the caller starts pieces while it
        walks) in the order of ``kind`` ("copies" or "held"), nearest ``center`` first inside a level;
        levels for which ``skip(key)`` says so at the moment they come up are passed over."""
        levels = self.copies if kind == "copies" else self.by_held
        below = (1 << center) - 1
        for key in list(levels.keys):
            if skip is not None and skip(key):
                continue
            m = levels.masks.get(key, 0) & wanted()
            hi, lo = m & ~below, m & below
            while hi or lo:
                up = (hi & -hi).bit_length() - 1 if hi else -1        # nearest at or above the centre
                down = lo.bit_length() - 1 if lo else -1              # nearest below it
                if down < 0 or (up >= 0 and (up - center < center - down
                                             or (up - center == center - down and rng.random() < 0.5))):
                    hi &= ~(1 << up)
                    yield up
                else:
                    lo &= ~(1 << down)
                    yield down
