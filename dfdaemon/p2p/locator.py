"""The supernode list: ``host[:port][=weight]`` entries, GCD-reduced weights, shuffle, failover walk.

Each node is repeated ``weight / gcd(weights)`` times and the list shuffled, so heavier
nodes come first more often. Registration walks the list in order; a migration continues
the walk from where it stopped and skips the node it is leaving.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import reduce

from dfcommon.errors import ConfigError

DEFAULT_PORT = 8002
DEFAULT_NODE = "127.0.0.1:8002"


@dataclass(frozen=True)
class Node:
    host: str
    port: int = DEFAULT_PORT
    weight: int = 1

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_node(text: str) -> Node:
    """Parse ``host``, ``host:port``, ``host=weight`` or ``host:port=weight`` (``[v6]:port`` too)."""
    raw = (text or "").strip()
    if not raw:
        raise ConfigError("empty supernode address")
    weight = 1
    if "=" in raw:
        raw, w = raw.rsplit("=", 1)
        try:
            weight = int(w)
        except ValueError:
            raise ConfigError(f"supernode {text!r}: weight must be an integer") from None
        if weight <= 0:
            raise ConfigError(f"supernode {text!r}: weight must be positive")
    host, port = raw, DEFAULT_PORT
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise ConfigError(f"supernode {text!r}: unclosed '['")
        host, rest = raw[1:end], raw[end + 1:]
        if rest:
            port = _port(rest.lstrip(":"), text)
    elif raw.count(":") == 1:
        host, p = raw.split(":", 1)
        port = _port(p, text)
    if not host:
        raise ConfigError(f"supernode {text!r}: empty host")
    return Node(host, port, weight)


def _port(value: str, text: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise ConfigError(f"supernode {text!r}: port must be a number") from None
    if not 0 < port < 65536:
        raise ConfigError(f"supernode {text!r}: port out of range")
    return port


def parse_nodes(values) -> list[Node]:
    """Parse a list of entries, each possibly comma-separated; an empty list gives the default node."""
    nodes = []
    for value in values or ():
        for part in str(value).split(","):
            if part.strip():
                nodes.append(parse_node(part))
    return nodes or [parse_node(DEFAULT_NODE)]


def expand(nodes: list[Node], rng: random.Random | None = None) -> list[str]:
    """Addresses repeated by GCD-reduced weight, then shuffled."""
    if not nodes:
        return []
    g = reduce(math.gcd, (n.weight for n in nodes))
    out = [n.address for n in nodes for _ in range(n.weight // g)]
    (rng or random).shuffle(out)
    return out


class Locator:
    """A one-way walk over the expanded node list, shared by registration and migration."""

    def __init__(self, nodes: list[Node], rng: random.Random | None = None):
        self._order = expand(nodes, rng)
        self._pos = 0
        self.current: str | None = None

    @classmethod
    def from_strings(cls, values, rng: random.Random | None = None) -> "Locator":
        return cls(parse_nodes(values), rng)

    @property
    def order(self) -> list[str]:
        return list(self._order)

    def remaining(self) -> list[str]:
        return self._order[self._pos:]

    def next(self) -> str | None:
        """The next node to try, skipping the node currently in use; None when the walk is over."""
        while self._pos < len(self._order):
            node = self._order[self._pos]
            self._pos += 1
            if node != self.current:
                return node
        return None

    def select(self, node: str) -> None:
        self.current = node

    def rewind(self) -> None:
        """Start a new walk over the whole list, the node in use included: after a walk in which no node
        answered, a member that was restarting may be back."""
        self._pos = 0
        self.current = None
