"""Peers: one record per dfget run (peer id ``<hostName>-<ip>-<unixNano>``) plus its service state."""
from __future__ import annotations

import threading
import time
from sys import intern as _intern
from dataclasses import dataclass, field

from dfcommon.errors import DfError


@dataclass(slots=True)
class Peer:
    id: str
    ip: str
    host_name: str
    port: int
    version: str = ""
    cdn_pattern: bool = False          # never used as a source (pattern=cdn or upload port 0)
    created: float = field(default_factory=time.time)
    service_down_time: float = 0.0     # > 0 once the peer said it stopped serving
    scheme: str = "http"               # https when the peer's upload server speaks TLS
    location: str = ""                 # "region|zone|rack..." from its registration (optional)
    idc: str = ""                      # its data centre (optional)
    # the upload server behind this peer (``ip:port``): one host's registrations (an image's layers, every
    # download of its dfdaemon) share it, and with it that host's uplink
    uplink: str = field(init=False, repr=False, compare=False)
    location_parts: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        self.uplink = f"{self.ip}:{self.port}"
        self.location_parts = tuple(self.location.split("|")) if self.location else ()

    def to_json(self) -> dict:
        return {"ID": self.id, "IP": self.ip, "hostName": self.host_name, "port": self.port,
                "version": self.version, "created": _rfc3339(self.created),
                "serviceDown": self.service_down_time > 0}


def intern(value):
    """The one shared object of a string (others unchanged): ids, addresses and labels repeat per peer."""
    return _intern(value) if type(value) is str else value


def _rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class PeerRegistry:
    """In-memory peer records. Every dfget run registers a new peer."""

    def __init__(self, clock=time.time, metrics=None):
        self._clock = clock
        self._metrics = metrics
        self._peers: dict[str, Peer] = {}
        self.get = self._peers.get      # the scheduler's hottest look-up: the dict's own method, no Python frame
        # peers registered per address: the ``peers{peer=ip}`` gauge (the metrics' own dict when there are metrics)
        self._per_ip: dict[str, int] = metrics.peer_counts if metrics is not None else {}
        self._lock = threading.Lock()
        self._last_nano = 0

    def register(self, ip: str, host_name: str, port: int, version: str = "", cdn_pattern: bool = False,
                 location: str = "", idc: str = "") -> Peer:
        # one string object per distinct address, name and version, however many registrations repeat them
        ip, host_name, version = intern(ip), intern(host_name), intern(version)
        with self._lock:
            nano = max(time.time_ns(), self._last_nano + 1)     # unique even within one clock tick
            self._last_nano = nano
            peer = Peer(id=f"{host_name}-{ip}-{nano}", ip=ip, host_name=host_name, port=int(port),
                        version=version, cdn_pattern=cdn_pattern or int(port) == 0, created=self._clock(),
                        location=location, idc=idc)
            self._peers[peer.id] = peer
            self._count(ip, 1)
        return peer

    def adopt(self, peer: Peer) -> Peer:
        """Keep a peer registered elsewhere (another supernode of the cluster) under its own id."""
        with self._lock:
            known = self._peers.get(peer.id)
            if known is not None:
                return known
            self._peers[peer.id] = peer
            self._count(peer.ip, 1)
        return peer

    def get(self, peer_id: str) -> Peer | None:      # replaced per instance by the dict's get (same answer)
        return self._peers.get(peer_id)

    def require(self, peer_id: str) -> Peer:
        peer = self._peers.get(peer_id)
        if peer is None:
            raise DfError("NOT_FOUND", f"peer {peer_id} not found")
        return peer

    def list(self) -> list[Peer]:
        return list(self._peers.values())

    def mark_down(self, peer_id: str) -> bool:
        peer = self._peers.get(peer_id)
        if peer is None:
            return False
        if not peer.service_down_time:
            peer.service_down_time = self._clock()
        return True

    def delete(self, peer_id: str) -> Peer | None:
        with self._lock:
            peer = self._peers.pop(peer_id, None)
            if peer is not None:
                self._count(peer.ip, -1)
        return peer

    def _count(self, ip: str, delta: int) -> None:
        """Keep the count of peers per address (``peers{peer=ip}``, made from it at scrape time); an address
        whose last peer left is dropped, so the counts are as many as the addresses registered now."""
        counts = self._per_ip
        n = counts.get(ip, 0) + delta
        if n > 0:
            counts[ip] = n
        else:
            counts.pop(ip, None)

    def down_before(self, deadline: float) -> list[str]:
        """Ids of peers whose service went down before ``deadline``."""
        return [p.id for p in list(self._peers.values()) if 0 < p.service_down_time < deadline]

    def __len__(self):
        return len(self._peers)
