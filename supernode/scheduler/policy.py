"""Piece-selection policies: the order in which a client is offered the pieces it still needs.

Chosen by name (``scheduler_policy``):

- ``rarest-first`` (default): ascending count of copies in the network, where a copy is a peer
  holding the piece *or a client fetching it right now*, so that clients asking at the same time
  get different pieces first and the supernode sends each piece about once. Ties go to the piece
  nearest the centre of the client's running pieces, then random.
- ``dragonfly``: Dragonfly 1.x's order: holders only (pieces in flight not counted).
- ``sequential``: ascending piece number (useful to debug, and for streaming consumers).

A policy with a ``levels`` attribute names the key of an incremental order the in-memory store keeps
(supernode/scheduler/rarity.py); the scheduler then walks that order and stops when it has enough pieces,
instead of calling ``order`` on every available piece. ``order`` stays the definition of the policy (and
the path for stores and policies without such an index); both give the same order.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Protocol



@dataclass
class PieceView:
    """What a policy may look at for one scheduling step."""
    holders: Callable[[int], int]        # piece -> peers holding it
    in_flight: Callable[[int], int]      # piece -> clients fetching it now
    running: list[int]                   # pieces the asking client is fetching


class PiecePolicy(Protocol):
    name: str

    def order(self, pieces: list[int], view: PieceView, rng: random.Random) -> list[int]: ...


def center(running: list[int]) -> int:
    return sum(running) // len(running) if running else 0


class RarestFirst:
    name = "rarest-first"
    count_in_flight = True
    levels = "copies"       # the store's incremental order of this key (rarity.py), used when it has one

    def order(self, pieces, view, rng):
        mid = center(view.running)

        def key(p):
            held = view.holders(p)
            if not self.count_in_flight:
                return held, abs(p - mid), rng.random()
            # equal copies: a piece some peer can serve goes before one only the supernode has
            return held + view.in_flight(p), 0 if held else 1, abs(p - mid), rng.random()
        return sorted(pieces, key=key)


class DragonflyRarestFirst(RarestFirst):
    name = "dragonfly"
    count_in_flight = False
    levels = "held"


class Sequential:
    name = "sequential"

    def order(self, pieces, view, rng):
        return sorted(pieces)


POLICIES: dict[str, type] = {p.name: p for p in (RarestFirst, DragonflyRarestFirst, Sequential)}


POLICY_GROUP = "dragonfly.policies"


def create_policy(name: str) -> PiecePolicy:
    """A built-in policy, or a class installed in the ``dragonfly.policies`` entry-point group
    (docs/plugins.md); an unknown name raises ConfigError listing the known ones."""
    from dfcommon import plugins
    return plugins.load(POLICY_GROUP, name, POLICIES, setting="scheduler_policy")()
