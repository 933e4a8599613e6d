"""The one error handler of the dfdaemon app: the OCI envelope on ``/v2/``, a JSON problem elsewhere.

A 401 carries the origin's challenge (``detail["www_authenticate"]``) as ``WWW-Authenticate`` lines,
so clients run their own token flow; a 416 carries ``Content-Range: bytes */<size>``. Anything
unexpected is logged and answered 500 without details.
"""
from __future__ import annotations

import json
import logging

from flask import Response, request
from werkzeug.exceptions import HTTPException

from dfcommon.errors import DfError

log = logging.getLogger(__name__)

API_VERSION = ("Docker-Distribution-API-Version", "registry/2.0")
_HTTP_KINDS = {400: "INVALID_PARAM", 404: "NOT_FOUND", 405: "UNSUPPORTED", 413: "BODY_TOO_LARGE"}


def is_registry_path(path: str) -> bool:
    return path == "/v2" or path.startswith("/v2/")


def render(err: DfError, path: str | None = None, method: str | None = None) -> Response:
    path = request.path if path is None else path
    method = request.method if method is None else method
    headers = []
    detail = err.detail if isinstance(err.detail, dict) else {}
    if is_registry_path(path):
        public = {k: v for k, v in detail.items() if k not in ("www_authenticate", "content_range")} or None
        body = {"errors": [{"code": err.code, "message": err.message, "detail": public}]}
        headers.append(API_VERSION)
    else:
        body = err.problem()
    challenges = detail.get("www_authenticate")
    if err.http_status == 401 and challenges:
        for c in ([challenges] if isinstance(challenges, str) else challenges):
            headers.append(("WWW-Authenticate", c))
    if detail.get("content_range"):
        headers.append(("Content-Range", detail["content_range"]))
    data = json.dumps(body, default=str).encode()
    headers += [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    resp = Response(b"" if method == "HEAD" else data, status=err.http_status, headers=headers)
    if method == "HEAD":
        resp.headers["Content-Length"] = str(len(data))
    return resp


def install_error_handlers(app) -> None:
    @app.errorhandler(DfError)
    def _df_error(err: DfError):
        level = logging.WARNING if err.http_status >= 500 else logging.INFO
        log.log(level, "request refused method=%s path=%s code=%s message=%s", request.method, request.path,
                err.code, err.message)
        return render(err)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        code = err.code or 500
        kind = _HTTP_KINDS.get(code, "INVALID_PARAM" if code < 500 else "INTERNAL")
        message = {404: f"no such endpoint: {request.method} {request.path}",
                   405: f"method {request.method} not allowed on {request.path}"}.get(code, err.description)
        return render(DfError(kind, message, http_status=code))

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unhandled error method=%s path=%s", request.method, request.path)
        return render(DfError("INTERNAL", "internal error"))
