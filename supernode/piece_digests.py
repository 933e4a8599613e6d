"""The fast piece digest on the supernode: who asked for it, and the 601 field that carries it.

See :mod:`dfcommon.piece_digest` for the negotiation. :class:`PieceDigests` remembers the cids whose
registration offered the fast digest while ``fast_digest`` is on (a bounded table: the oldest entries go
first, and a forgotten cid is simply checked with md5 again). :class:`DigestExtras` is the scheduler's
``piece_extras`` hook: after any other extras (peer tokens, scheme) it adds ``pieceDigest`` to a piece entry
for such a cid when the CDN kept that piece's digest while writing it. ``pieceMd5`` is never removed, so a
Dragonfly 1.x dfget, which offers nothing, gets exactly the protocol's fields.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from dfcommon import piece_digest


class PieceDigests:
    def __init__(self, enabled: bool, capacity: int = 65536):
        self.enabled = bool(enabled) and piece_digest.available()
        self.capacity = capacity
        self._cids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def negotiate(self, cid: str, offer: str) -> str:
        """The algorithm this cid's pieces will carry (``"xxh3-128"``), or "" for md5 only."""
        if not (self.enabled and cid and piece_digest.offered(offer)):
            self.forget(cid)
            return ""
        with self._lock:
            self._cids[cid] = None
            self._cids.move_to_end(cid)
            while len(self._cids) > self.capacity:
                self._cids.popitem(last=False)
        return piece_digest.ALGO

    def accepts(self, cid: str) -> bool:
        return cid in self._cids

    def forget(self, cid: str) -> None:
        with self._lock:
            self._cids.pop(cid, None)


class DigestExtras:
    """``TaskManager.piece_extras``: runs ``inner`` (if any), then adds ``pieceDigest`` where it applies."""

    def __init__(self, digests: PieceDigests, cdn, inner=None):
        self.digests, self.cdn, self.inner = digests, cdn, inner
        self._lookup = getattr(cdn, "piece_digest", None)

    def apply(self, info: dict, task_id: str, requester_cid: str, from_supernode: bool,
              peer_scheme: str = "http") -> dict:
        if self.inner is not None:
            self.inner.apply(info, task_id, requester_cid, from_supernode, peer_scheme)
        if self._lookup is not None and info.get("pieceMd5") and self.digests.accepts(requester_cid):
            value = self._lookup(task_id, info.get("pieceNum"))
            if value:
                info["pieceDigest"] = value
        return info


def install_piece_digests(services) -> PieceDigests:
    """Build the table from ``fast_digest`` and hook it after the other piece extras (composition root)."""
    digests = PieceDigests(getattr(services.config, "fast_digest", False))
    services.extras["piece_digests"] = digests
    if digests.enabled:
        services.manager.piece_extras = DigestExtras(digests, services.cdn, services.manager.piece_extras)
    return digests
