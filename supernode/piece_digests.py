"""The fast piece digest on the supernode: who asked for it, and the 601 field that carries it.

See :mod:`dfcommon.piece_digest` for the negotiation. :class:`PieceDigests` remembers the cids whose
registration offered the fast digest while ``fast_digest`` is on (a bounded table: the oldest entries go
first, and a forgotten cid is simply checked with md5 again). :class:`DigestExtras` is the scheduler's
``piece_extras`` hook: after any other extras (peer tokens, scheme) it adds ``pieceDigest`` to a piece entry
for such a cid when the CDN kept that piece's digest while writing it. A Dragonfly 1.x dfget, which offers
nothing, gets exactly the protocol's fields.

With the fast digest on, the CDN computes no md5 while writing (lazy md5, :mod:`supernode.cdn.lazy_md5`): a
piece is recorded with the md5 "" until someone needs it. The hook fills ``pieceMd5`` in for every entry of a
client that gets no ``pieceDigest`` (a Dragonfly 1.x peer, one of ours that offered nothing, a piece whose
digest is not known), from the stored piece, once per piece; :func:`finish_md5` does the same for the
whole-file md5 of the 600 reply.
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
        self._ensure_md5 = getattr(cdn, "ensure_piece_md5", None) if getattr(cdn, "lazy_md5", False) else None

    def apply(self, info: dict, task_id: str, requester_cid: str, from_supernode: bool,
              peer_scheme: str = "http") -> dict:
        if self.inner is not None:
            self.inner.apply(info, task_id, requester_cid, from_supernode, peer_scheme)
        num = info.get("pieceNum")
        wrapped = bool(info.get("pieceMd5")) or self._ensure_md5 is not None    # CDN pieces (not the source pattern)
        if self._lookup is not None and wrapped and self.digests.accepts(requester_cid):
            value = self._lookup(task_id, num)
            if value:
                info["pieceDigest"] = value
                return info
        if self._ensure_md5 is not None and not info.get("pieceMd5") and isinstance(num, int):
            info["pieceMd5"] = self._ensure_md5(task_id, num)
        return info


def finish_md5(services, task_id: str, requester_cid: str, data) -> None:
    """Fill the whole-file md5 into a 600 reply (``data``) when the CDN computed none while writing (lazy
    md5) and the requester is not a client that checked every piece with the fast digest; the scheduler's
    task record gets it too."""
    cdn = services.cdn
    digests = services.extras.get("piece_digests")
    if not isinstance(data, dict) or data.get("md5") or not getattr(cdn, "lazy_md5", False):
        return
    if digests is not None and digests.accepts(requester_cid):
        return          # our client checked each piece with its fast digest; it asks for no file md5
    md5 = cdn.ensure_file_md5(task_id)
    if not md5:
        return
    data["md5"] = md5
    state = services.state
    with state.lock:
        task = state.tasks.get(task_id)
        if task is not None and not task.real_md5:
            task.real_md5 = md5


def install_piece_digests(services) -> PieceDigests:
    """Build the table from ``fast_digest`` and hook it after the other piece extras (composition root)."""
    digests = PieceDigests(getattr(services.config, "fast_digest", False))
    services.extras["piece_digests"] = digests
    if digests.enabled:
        # lazy md5 needs this hook on every piece entry; a cluster shares piece md5s between members through
        # its records, so there the CDN keeps computing them while writing
        if hasattr(services.cdn, "lazy_md5") and services.extras.get("cluster") is None:
            services.cdn.lazy_md5 = True
        services.manager.piece_extras = DigestExtras(digests, services.cdn, services.manager.piece_extras)
    return digests
