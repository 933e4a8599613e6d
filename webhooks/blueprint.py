"""Flask blueprint of the webhook receivers: parse the HTTP request, call the intake, serialize.

- ``POST /api/v1/webhooks/harbor``   Harbor, Default (application/json) or CloudEvents
  (application/cloudevents+json); the format is also recognised by the body's shape.
- ``POST /api/v1/webhooks/registry`` registry:2 notifications
  (application/vnd.docker.distribution.events.v2+json or application/json).

Answers ``202 {"accepted","queued","duplicates","ignored"}``; errors are JSON problem
objects (401 auth, 400 bad payload, 413 too large, 415 wrong media type). The blueprint
renders its own errors so the receivers answer the same way whatever app mounts them.
"""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from dfcommon.errors import DfError

from .intake import WebhookIntake

log = logging.getLogger(__name__)

URL_PREFIX = "/api/v1/webhooks"
_READ_BLOCK = 64 * 1024


def read_body(limit: int) -> bytes:
    """The request body, refusing (413) anything longer than ``limit`` without buffering it all."""
    length = request.content_length
    if length is not None and length > limit:
        raise DfError("BODY_TOO_LARGE", f"body of {length} bytes exceeds the limit of {limit} bytes")
    stream = request.stream
    parts, total = [], 0
    while total <= limit:
        chunk = stream.read(min(_READ_BLOCK, limit + 1 - total))
        if not chunk:
            break
        parts.append(chunk)
        total += len(chunk)
    if total > limit:
        raise DfError("BODY_TOO_LARGE", f"body exceeds the limit of {limit} bytes")
    return b"".join(parts)


def _problem(err: DfError):
    resp = jsonify(err.problem())
    resp.status_code = err.http_status
    return resp


def create_webhooks_blueprint(intake: WebhookIntake, url_prefix: str = URL_PREFIX) -> Blueprint:
    bp = Blueprint("webhooks", __name__, url_prefix=url_prefix)

    @bp.post("/harbor")
    def harbor_webhook():
        body = read_body(intake.max_body_size)
        result = intake.harbor(body, request.headers.get("Content-Type"), request.headers.get("Authorization"))
        return jsonify(result.to_dict()), 202

    @bp.post("/registry")
    def registry_webhook():
        body = read_body(intake.max_body_size)
        result = intake.registry(body, request.headers.get("Content-Type"),
                                 request.headers.get("Authorization"))
        return jsonify(result.to_dict()), 202

    @bp.errorhandler(DfError)
    def on_df_error(err: DfError):
        if err.http_status >= 500:
            log.error("webhook error code=%s message=%s", err.code, err.message)
        else:
            log.info("webhook rejected path=%s status=%d code=%s message=%s",
                     request.path, err.http_status, err.code, err.message)
        return _problem(err)

    @bp.errorhandler(RequestEntityTooLarge)
    def on_too_large(_exc):
        return _problem(DfError("BODY_TOO_LARGE"))

    return bp
