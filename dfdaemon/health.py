"""``/healthz``, ``/_ping`` and ``/metrics`` of the dfdaemon, plus the per-request counter."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST


def create_health_blueprint(services) -> Blueprint:
    bp = Blueprint("health", __name__)

    @bp.route("/_ping", methods=["GET", "HEAD"])
    def ping():
        return Response("OK", mimetype="text/plain")

    @bp.route("/healthz", methods=["GET", "HEAD"])
    def healthz():
        cache = services.cache
        return jsonify({"status": "ok", "port": services.config.port,
                        "upload_port": services.upload_port(), "cache_bytes": cache.total_bytes,
                        "downloads_running": len(services.blobs.flights),
                        "default_upstream": services.selector.default.url})

    @bp.route("/metrics", methods=["GET"])
    def metrics():
        services.metrics.cache_bytes.set(services.cache.total_bytes)
        return Response(services.metrics.exposition(), mimetype=CONTENT_TYPE_LATEST)

    return bp


def install_request_metrics(app, metrics) -> None:
    @app.after_request
    def _count(resp):
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.requests.labels(_route(rule, request.path), request.method, str(resp.status_code)).inc()
        return resp


def _route(rule: str, path: str) -> str:
    """A low-cardinality route label: the API kind, never the repository name."""
    if rule.startswith("/v2/<"):
        for kind in ("manifests", "blobs", "tags", "referrers"):
            if f"/{kind}/" in path:
                return f"/v2/<name>/{kind}"
        return "/v2/<other>"
    return rule
