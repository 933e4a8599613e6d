"""The proxy WSGI application: one absolute-URL request through the rules, P2P or direct.

The handler puts the target URL and the raw request headers (repeated ones kept) in the
environ; this app applies the first matching rule, streams a P2P download for GETs the rules
send there (falling back to the origin if the download fails before its first byte) and
forwards everything else upstream. Errors are JSON problem objects, never a stack trace.
"""
from __future__ import annotations

import http
import json
import logging
from urllib.parse import urlsplit

from dfcommon.errors import DfError

from .forward import BLOCK, Forwarder, StreamAborted, TlsOptions, end_to_end
from .rules import HijackRules, ProxyRules, authority

log = logging.getLogger(__name__)

ENV_URL = "dfdaemon.proxy.url"
ENV_HEADERS = "dfdaemon.proxy.headers"


class Body:
    """A response body: an optional first block, the rest, and a close hook; failures become StreamAborted."""

    def __init__(self, rest, on_close=None, first: bytes = b""):
        self.first, self.rest, self.on_close = first, rest, on_close

    def __iter__(self):
        if self.first:
            yield self.first
        try:
            yield from self.rest
        except StreamAborted:
            raise
        except Exception as e:      # noqa: BLE001 - any failure of the source cuts the client connection
            raise StreamAborted(f"body source failed: {e}") from None

    def close(self) -> None:
        if self.on_close is not None:
            on_close, self.on_close = self.on_close, None
            try:
                on_close()
            except Exception as e:  # noqa: BLE001
                log.debug("closing a body source failed error=%s", e)


def error_parts(err: DfError):
    """``(status, headers, body)`` of the JSON problem response for ``err``."""
    body = json.dumps(err.problem()).encode()
    return (f"{err.http_status} {_phrase(err.http_status)}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)


def error_response(start_response, err: DfError):
    status, headers, body = error_parts(err)
    start_response(status, headers)
    return [body]


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def downloader_fetch(downloader, **defaults):
    """A ``p2p_fetch`` callable over a :class:`dfdaemon.p2p.Downloader` (``stream()`` in dfdaemon mode)."""
    def fetch(url, headers, **kw):
        return downloader.stream(url, headers=list(headers), dfdaemon=True, **{**defaults, **kw})
    return fetch


class ProxyApp:
    """WSGI app for proxied requests. ``p2p_fetch(url, headers, **tls) -> iterable of bytes``."""

    def __init__(self, rules: ProxyRules, forwarder: Forwarder, hijack: HijackRules | None = None,
                 p2p_fetch=None):
        self.rules, self.forwarder = rules, forwarder
        self.hijack = hijack or HijackRules()
        self.p2p_fetch = p2p_fetch

    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        url = environ.get(ENV_URL, "")
        headers = environ.get(ENV_HEADERS, [])
        try:
            parts = urlsplit(url)
            if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
                raise DfError("INVALID_PARAM", f"proxy request needs an absolute http(s) URL, got {url!r}")
            route = self.rules.route(method, url)
            tls = self.tls_for(route.url)
            if route.p2p and self.p2p_fetch is not None:
                body = self._p2p(route.url, headers, tls)
                if body is not None:
                    start_response("200 OK", [("Content-Type", "application/octet-stream")])
                    return body
            return self._forward(environ, method, route.url, headers, tls, start_response)
        except DfError as e:
            log.info("proxy request failed method=%s url=%s code=%s message=%s", method, _safe(url), e.code,
                     e.message)
            return error_response(start_response, e)

    def tls_for(self, url: str) -> TlsOptions | None:
        if urlsplit(url).scheme.lower() != "https":
            return None
        host = self.hijack.host_for(authority(url))
        return TlsOptions(insecure=host.insecure, certs=host.certs) if host is not None else None

    def _p2p(self, url: str, headers, tls: TlsOptions | None):
        sent = [(k, v) for k, v in end_to_end(headers) if k.lower() not in ("host", "accept-encoding")]
        kw = {} if tls is None or tls.default else {"insecure": tls.insecure, "cacerts": list(tls.certs)}
        stream = None
        try:
            stream = self.p2p_fetch(url, sent, **kw)
            rest = iter(stream)
            try:
                first = next(rest)
            except StopIteration:
                first = b""
        except Exception as e:      # noqa: BLE001 - any P2P failure before the first byte: go to the origin
            log.warning("p2p download failed, fetching directly url=%s error=%s", _safe(url), e)
            _close(stream)
            return None
        log.info("serving through p2p url=%s", _safe(url))
        return Body(rest, on_close=lambda: _close(stream), first=first)

    def _forward(self, environ, method, url, headers, tls, start_response):
        body, chunked = _request_body(environ)
        upstream = self.forwarder.send(method, url, headers, body=body, chunked=chunked, tls=tls)
        out = upstream.headers
        if upstream.status in (204, 304):
            out = [(k, v) for k, v in out if k.lower() != "content-length"]
        elif method == "HEAD" and not any(k.lower() == "content-length" for k, _ in out):
            out = out + [("Connection", "close")]
        start_response(f"{upstream.status} {upstream.reason or _phrase(upstream.status)}", out)
        if method == "HEAD" or upstream.status in (204, 304):
            upstream.close_without_body()
            return []
        return Body(iter(upstream), on_close=upstream.close)


def _request_body(environ):
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    length = environ.get("CONTENT_LENGTH") or ""
    if not chunked and (not length.isdigit() or int(length) == 0):
        return None, False
    stream = environ["wsgi.input"]

    def blocks():
        while True:
            data = stream.read(BLOCK)
            if not data:
                return
            yield data
    return blocks(), chunked


def _close(stream) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        try:
            close()
        except Exception as e:      # noqa: BLE001
            log.debug("closing a p2p stream failed error=%s", e)


def _safe(url: str) -> str:
    """The URL without userinfo or query (which may carry credentials) for logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
