"""The one error handler of the supernode API.

A DfError (or an HTTP error raised by Flask/Werkzeug, such as 404, 405 or 413) is rendered as
Dragonfly's ``{"code": <result code>, "message": ...}`` on the peer endpoints and as a JSON
problem object elsewhere. Anything unexpected is logged and becomes a 500 without details.
"""
from __future__ import annotations

import logging

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from dfcommon.errors import DfError

log = logging.getLogger(__name__)
PEER_PREFIXES = ("/peer/", "/task/", "/api/v1/peer/")
_HTTP_KINDS = {400: "INVALID_PARAM", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "BODY_TOO_LARGE"}


def is_peer_path(path: str) -> bool:
    return path.startswith(PEER_PREFIXES)


def render(err: DfError):
    if is_peer_path(request.path):
        body = {"code": err.df_code, "message": err.message}
    else:
        body = err.problem()
    return jsonify(body), err.http_status


def result_info(code: int, data=None, msg: str = ""):
    """Dragonfly's ResultInfo envelope, always HTTP 200."""
    return jsonify({"code": code, "msg": msg, "data": data}), 200


def install_error_handlers(app) -> None:
    @app.errorhandler(DfError)
    def _df_error(err: DfError):
        if err.http_status >= 500 and err.code != "UNAVAILABLE":      # outages are logged once per interval
            log.warning("request failed path=%s code=%s message=%s", request.path, err.code, err.message)
        return render(err)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        kind = _HTTP_KINDS.get(err.code or 500, "INVALID_PARAM" if (err.code or 500) < 500 else "INTERNAL")
        message = {404: f"no such endpoint: {request.method} {request.path}",
                   405: f"method {request.method} not allowed on {request.path}",
                   413: "request body too large"}.get(err.code, err.description)
        return render(DfError(kind, message, http_status=err.code))

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unhandled error path=%s", request.path)
        return render(DfError("INTERNAL", "internal error"))
