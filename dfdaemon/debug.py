"""``GET /debug/pulls``: the mirror's recent blob pulls, newest first (see dfdaemon/mirror/pulls.py).

``?limit=N`` (1-200, default 50) bounds the list. Each entry names the registry, repository, digest and
Range, where the bytes came from (``cache``, ``peers``, ``supernode``, ``origin``), the time taken, the rate
limit wait and the reasons the pull was slow, if any. The listener is the mirror's (loopback by default):
the list shows repository names and digests, never credentials.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from dfcommon.errors import DfError

from .mirror.pulls import RECENT


def create_debug_blueprint(services) -> Blueprint:
    bp = Blueprint("debug", __name__)

    @bp.route("/debug/pulls", methods=["GET"])
    def pulls():
        raw = request.args.get("limit", "50")
        if not raw.isdigit() or not 1 <= int(raw) <= RECENT:
            raise DfError("INVALID_PARAM", f"limit must be a whole number from 1 to {RECENT}")
        log = services.blobs.pulls
        return jsonify({"local_hits": log.local["hit"], "local_misses": log.local["miss"],
                        "pulls": log.recent(int(raw))})

    return bp
