"""``GET /api/v1/cluster``: the live members, their load and the tasks whose CDN lease they hold (admin)."""
from __future__ import annotations

from flask import Blueprint, jsonify

from .node import cluster_of
from .outage import REDIS_ERRORS, unavailable


def create_cluster_blueprint(services) -> Blueprint:
    bp = Blueprint("cluster", __name__, url_prefix="/api/v1")

    @bp.get("/cluster")
    def cluster():
        node = cluster_of(services)
        if node is None:
            return jsonify({"enabled": False, "member": None, "members": []})
        try:
            members = node.membership.members()
        except REDIS_ERRORS as e:
            node.outage.failed("GET /api/v1/cluster", e)
            raise unavailable(e) from None
        return jsonify({"enabled": True, "member": node.member_id, "members": members})

    return bp
