"""Who holds a piece, kept so that the scheduler's cost per call does not grow with the swarm.

A task's holders of one piece are a ``HolderSet``: an ``array`` of small peer numbers (2 bytes per holder
while every number is below 65,536, then 4),
so a random handful of holders is drawn in O(k) (``sample``) instead of looking at every holder, and a
per-peer bitset of the task's pieces (``TaskHolders.held``: one bit per piece) answers "does this peer hold
the piece" in O(1) and tells a leaving peer which arrays to leave. Peer ids map to numbers through one
``PeerIndex`` per store; a number is reused once its peer has left.

Memory: about 2 bytes and one bit per (peer, piece) held, where sets of id strings and (task, piece) index
tuples took well over 100.
"""
from __future__ import annotations

import random
from array import array
from collections.abc import Set


class PeerIndex:
    """Peer id <-> small integer, numbers reused after ``release``."""

    def __init__(self):
        self._num: dict[str, int] = {}
        self._ids: list[str | None] = []
        self._free: list[int] = []

    def number(self, pid: str) -> int:
        n = self._num.get(pid)
        if n is None:
            if self._free:
                n = self._free.pop()
                self._ids[n] = pid
            else:
                n = len(self._ids)
                self._ids.append(pid)
            self._num[pid] = n
        return n

    def get(self, pid: str) -> int | None:
        return self._num.get(pid)

    def pid(self, n: int) -> str:
        return self._ids[n]

    def release(self, pid: str) -> None:
        n = self._num.pop(pid, None)
        if n is not None:
            self._ids[n] = None
            self._free.append(n)

    def __len__(self):
        return len(self._num)


def _has(bits: bytearray | None, piece: int) -> bool:
    return bits is not None and (piece >> 3) < len(bits) and bool(bits[piece >> 3] & (1 << (piece & 7)))


class FreePool:
    """Peers of one task that may have a free upload slot, as an array of peer numbers and a membership
    bitset (about 4 bytes and one bit per peer). A peer joins when it first holds a piece of the task and
    again whenever one of its uploads for the task ends; it is taken out when a draw finds its upload server
    full or the peer gone. So the members are, lazily, the holders with room: when the few sampled holders of
    a piece are all busy, the scheduler draws from here instead of looking at more pieces."""

    __slots__ = ("nums", "member")

    def __init__(self):
        self.nums = array("i")
        self.member = bytearray()

    def add(self, n: int) -> None:
        byte, bit = n >> 3, 1 << (n & 7)
        member = self.member
        if byte >= len(member):
            member.extend(b"\0" * (byte + 1 - len(member)))
        if not member[byte] & bit:
            member[byte] |= bit
            self.nums.append(n)

    def remove_at(self, i: int) -> None:
        """Take out the member at position ``i`` of ``nums`` (the last one takes its place)."""
        nums = self.nums
        n, last = nums[i], nums.pop()
        if i < len(nums):
            nums[i] = last
        self.member[n >> 3] &= ~(1 << (n & 7)) & 0xFF

    def __contains__(self, n: int) -> bool:
        return _has(self.member, n)

    def __len__(self) -> int:
        return len(self.nums)


class TaskHolders:
    """The holders of every piece of one task: per piece an array of peer numbers, per peer a bitset."""

    def __init__(self, index: PeerIndex):
        self.index = index
        self.free = FreePool()                      # holders that may have an upload slot free
        self.pieces: dict[int, HolderSet] = {}
        self.held: dict[int, bytearray] = {}        # peer number -> bitset of the pieces it holds
        self.on_change = None                       # callable(piece, +1 / -1) when a piece gains / loses one

    def of(self, piece: int) -> "HolderSet":
        hs = self.pieces.get(piece)
        if hs is None:
            hs = self.pieces[piece] = HolderSet(self, piece)
        return hs

    def get(self, piece: int, default=None):
        return self.pieces.get(piece, default)

    def holds(self, pid: str, piece: int) -> bool:
        n = self.index.get(pid)
        return n is not None and _has(self.held.get(n), piece)

    def holds_number(self, n: int, piece: int) -> bool:
        return _has(self.held.get(n), piece)

    def held_pieces(self, n: int) -> list[int]:
        bits = self.held.get(n)
        if not bits:
            return []
        return [i * 8 + b for i, byte in enumerate(bits) if byte for b in range(8) if byte & (1 << b)]

    def forget(self, n: int) -> None:
        """Peer number ``n`` holds nothing of this task any more."""
        for piece in self.held_pieces(n):
            hs = self.pieces.get(piece)
            if hs is not None:
                hs._remove(n)
        self.held.pop(n, None)

    # dict-like views used by tests and recounts
    def items(self):
        return self.pieces.items()

    def values(self):
        return self.pieces.values()

    def __iter__(self):
        return iter(self.pieces)

    def __len__(self):
        return len(self.pieces)


class HolderSet(Set):
    """The peers holding one piece of one task (a read-mostly set of peer ids)."""

    __slots__ = ("_task", "_piece", "_nums")

    def __init__(self, task: TaskHolders, piece: int):
        self._task, self._piece, self._nums = task, piece, array("H")

    def __contains__(self, pid) -> bool:
        return self._task.holds(pid, self._piece)

    def __len__(self) -> int:
        return len(self._nums)

    def __iter__(self):
        pid = self._task.index.pid
        return iter([pid(n) for n in self._nums])

    def add(self, pid: str) -> None:
        t = self._task
        n = t.index.number(pid)
        bits = t.held.get(n)
        if _has(bits, self._piece):
            return
        if bits is None:
            bits = t.held[n] = bytearray()
        byte = self._piece >> 3
        if byte >= len(bits):
            bits.extend(b"\0" * (byte + 1 - len(bits)))
        bits[byte] |= 1 << (self._piece & 7)
        if n > 0xFFFF and self._nums.typecode == "H":
            self._nums = array("i", self._nums)     # numbers past 16 bits: 4 bytes a holder from now on
        self._nums.append(n)
        t.free.add(n)
        if t.on_change is not None:
            t.on_change(self._piece, 1)

    def discard(self, pid: str) -> None:
        n = self._task.index.get(pid)
        if n is None or not _has(self._task.held.get(n), self._piece):
            return
        bits = self._task.held[n]
        bits[self._piece >> 3] &= ~(1 << (self._piece & 7)) & 0xFF
        self._remove(n)

    def _remove(self, n: int) -> None:
        nums = self._nums
        try:
            i = nums.index(n)           # a C scan of 4-byte numbers, only when a holder goes
        except ValueError:
            return
        last = nums.pop()
        if i < len(nums):
            nums[i] = last
        if self._task.on_change is not None:
            self._task.on_change(self._piece, -1)

    def sample(self, k: int, rng: random.Random) -> list[str]:
        """Up to ``k`` holders drawn at random (all of them when there are no more than ``k``)."""
        pid, nums = self._task.index.pid, self._nums
        size = len(nums)
        if size <= k:
            return [pid(n) for n in nums]
        rand = rng.random                     # k draws with replacement, repeats dropped: O(k), no range object
        return [pid(n) for n in dict.fromkeys([nums[int(rand() * size)] for _ in range(k)])]


def sample_holders(holders, k: int, rng: random.Random) -> list[str]:
    """Up to ``k`` random holders from any store's ``holders()`` answer.

    A HolderSet (in-memory store) and the cluster snapshot's SampledHolders draw their own sample in O(k);
    any other collection is sorted first so that a seeded ``rng`` gives the same answer on every run.
    """
    if hasattr(holders, "sample"):
        return holders.sample(k, rng)
    if len(holders) <= k:
        return list(holders)
    return rng.sample(sorted(holders), k)
