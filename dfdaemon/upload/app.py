"""The peer upload server's WSGI app: five routes over an :class:`UploadService`.

Replies are plain text (``application/octet-stream`` for pieces), as Dragonfly 1.x peers
expect; errors are the catalogue's HTTP status with the message as the body.
"""
from __future__ import annotations

import logging
from typing import Callable, Optional

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from dfcommon.errors import DfError

from .service import UploadService
from .wrapping import parse_piece_request

log = logging.getLogger(__name__)

Authorize = Callable[[Request], bool]


def allow_all(request: Request) -> bool:
    return True


def _text(body: str, status: int = 200) -> Response:
    return Response(body, status=status, content_type="text/plain; charset=utf-8")


class UploadApp:
    """WSGI callable. ``authorize(request) -> bool`` guards piece downloads (403 when False);
    ``on_activity()`` is called on each hit that restarts the idle clock
    (``/peer/file``, ``/rate``, ``/check``)."""

    def __init__(self, service: UploadService, authorize: Optional[Authorize] = None,
                 on_activity: Optional[Callable[[], None]] = None):
        self.service = service
        self.authorize = authorize or allow_all
        self.on_activity = on_activity
        self.url_map = Map([
            Rule("/peer/file/<path:name>", endpoint="file", methods=["GET"]),
            Rule("/rate/<path:name>", endpoint="rate", methods=["GET"]),
            Rule("/check/<path:name>", endpoint="check", methods=["GET"]),
            Rule("/client/finish", endpoint="finish", methods=["GET"]),
            Rule("/server/ping", endpoint="ping", methods=["GET"]),
        ], strict_slashes=False, merge_slashes=False)

    def _active(self) -> None:
        self.service.mark_active()
        if self.on_activity is not None:
            self.on_activity()

    # -- routes --------------------------------------------------------------------
    def on_file(self, request: Request, name: str) -> Response:
        self._active()
        h = request.headers
        req = parse_piece_request(h.get("Range"), h.get("pieceNum"), h.get("pieceSize"), h.get("cdnSource"))
        self.service.path_of(name)  # reject bad names before asking authorize
        if not self.authorize(request):
            raise DfError("DENIED", "not allowed to download this piece")
        stream, plan = self.service.open_piece(name, req)
        if request.method == "HEAD":  # headers only; the body iterator would never be closed
            stream.close()
            stream = []
        resp = Response(stream, status=206, content_type="application/octet-stream", direct_passthrough=True)
        resp.headers["Content-Length"] = str(plan.body_len)
        return resp

    def on_rate(self, request: Request, name: str) -> Response:
        self._active()
        raw = (request.headers.get("rateLimit") or "").strip()
        try:
            client_rate = int(raw)
        except ValueError:
            raise DfError("INVALID_PARAM", f"invalid rateLimit {raw!r}") from None
        return _text(str(self.service.grant_rate(name, client_rate)))

    def on_check(self, request: Request, name: str) -> Response:
        self._active()
        try:
            total_limit = int((request.headers.get("totalLimit") or "0").strip())
        except ValueError:
            total_limit = 0
        data_dir = request.headers.get("dataDir")
        if data_dir and data_dir.rstrip("/") != self.service.data_dir:
            log.debug("check with another dataDir ignored file=%s", name)
        return _text(self.service.check(name, total_limit))

    def on_finish(self, request: Request) -> Response:
        a = request.args
        self.service.finish(a.get("taskFileName", ""), a.get("taskID", ""), a.get("cid", ""),
                            a.get("superNode", ""))
        return _text("success")

    def on_ping(self, request: Request) -> Response:
        return _text("success")

    # -- dispatch ------------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
            return getattr(self, f"on_{endpoint}")(request, **values)
        except DfError as e:
            if e.http_status >= 500:
                log.error("upload request failed path=%s error=%s", request.path, e.message)
            return _text(e.message, e.http_status)
        except HTTPException as e:
            return _text(e.description or e.name, e.code or 400)

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except Exception:  # a bug, not bad input: log it, never leak a stack trace
            log.exception("upload server error path=%s", request.path)
            response = _text("internal error", 500)
        return response(environ, start_response)


def create_upload_app(data_dir: str, total_limit: int = 0, authorize: Optional[Authorize] = None,
                      on_idle: Optional[Callable[[], None]] = None,
                      service: Optional[UploadService] = None) -> UploadApp:
    """Build the upload WSGI app over ``data_dir``.

    ``on_idle`` is called on every request that counts as activity for the idle clock, so
    an embedding process can track it; ``service`` injects shared state (the app's
    ``.service`` attribute exposes it otherwise).
    """
    svc = service if service is not None else UploadService(data_dir, total_limit=total_limit)
    return UploadApp(svc, authorize=authorize, on_activity=on_idle)
