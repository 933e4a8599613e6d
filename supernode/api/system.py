"""System endpoints: ``/_ping``, ``/version`` and ``/metrics``."""
from __future__ import annotations

import platform
import sys

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST

from supernode.metrics import VERSION


def version_info() -> dict:
    return {"Version": VERSION, "Revision": "", "BuildDate": "", "GoVersion": "python" + sys.version.split()[0],
            "OS": sys.platform, "Arch": platform.machine()}


def create_system_blueprint(services) -> Blueprint:
    bp = Blueprint("system", __name__)

    @bp.get("/_ping")
    def ping():
        return Response("OK", mimetype="text/plain")

    @bp.get("/version")
    def version():
        return jsonify(version_info())

    @bp.get("/metrics")
    def metrics():
        return Response(services.metrics.render(), content_type=CONTENT_TYPE_LATEST)

    return bp
