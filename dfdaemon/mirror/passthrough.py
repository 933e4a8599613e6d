"""Manifests, tags and ``/v2/`` go straight to the upstream, bytes and headers unchanged.

Request headers are forwarded line by line (six ``Accept`` lines stay six lines), ``Host`` is the
upstream's, the ``ns`` query parameter is dropped and ``Authorization`` is what the credential
resolver decides (the client's own, else configured credentials). The response keeps the origin's
status, ``Content-Type``, ``Content-Length`` and ``Docker-Content-Digest`` and its body bytes; a 401
is relayed with its ``WWW-Authenticate`` so clients run their own token flow. Redirects are
followed here (:class:`UpstreamHttp`), never shown to the client.
"""
from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode

from . import headers as hdr
from .blobs import Reply

log = logging.getLogger(__name__)

BLOCK = 1 << 20


class Passthrough:
    def __init__(self, http, auth, metrics=None, prefetch=None):
        self.http = http
        self.auth = auth
        self.metrics = metrics
        self.prefetch = prefetch        # LayerPrefetch: told about each image manifest a client got whole

    def forward(self, target, method: str, path: str, environ, headers) -> Reply:
        up = target.upstream
        lines = hdr.forwardable(hdr.request_lines(environ))
        query = _query_without_ns(environ.get("QUERY_STRING", ""))
        authorization = self.auth.resolve_authorization(up, headers, target.repository) \
            if target.repository else _client_authorization(headers)
        resp = self.http.request(up, method, path + (f"?{query}" if query else ""), lines, authorization)
        out = hdr.response_lines(resp.headers)
        log.debug("passthrough upstream=%s method=%s path=%s status=%d", up.name, method, path, resp.status)
        if method == "HEAD" or resp.status in (204, 304):
            resp.release_conn()
            return Reply(resp.status, out, ())
        if self.prefetch is not None and method == "GET" and resp.status == 200 and "/manifests/" in path:
            def served(body: bytes) -> None:
                self.prefetch.manifest_served(up.url, target.repository, body, resp.headers.get("Content-Type", ""),
                                              resp.headers.get("Docker-Content-Digest", ""), authorization)
            return Reply(resp.status, out, _teed_body(resp, served))
        return Reply(resp.status, out, _body(resp))


def _client_authorization(headers) -> str | None:
    value = headers.get("Authorization")
    return value.strip() if value and value.strip() else None


def _query_without_ns(qs: str) -> str:
    if not qs:
        return ""
    pairs = parse_qsl(qs, keep_blank_values=True)
    return urlencode([(k, v) for k, v in pairs if k != "ns"])


def _teed_body(resp, served, limit: int = 4 << 20):
    """The body as it streams to the client; ``served(bytes)`` once all of it was sent (and is small)."""
    kept, size = [], 0
    for block in _body(resp):
        size += len(block)
        if size <= limit:
            kept.append(block)
        yield block
    if size <= limit:
        try:
            served(b"".join(kept))
        except Exception:  # noqa: BLE001 - prefetch is best effort, never the client's failure
            log.exception("layer prefetch hook failed")


def _body(resp):
    try:
        for block in resp.stream(BLOCK, decode_content=False):
            yield block
    finally:
        resp.release_conn()
