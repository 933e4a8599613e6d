"""Supernode-to-supernode block sharing: a member's piece server answers a request for a task whose CDN runs
on another member by fetching the same range from that member's piece server and streaming it through (1 MiB
blocks, nothing buffered whole). The peer sees one supernode; the origin sees one fetch per cluster.

Bytes fetched this way count in ``dragonfly_supernode_cluster_cross_member_piece_bytes``. A request whose task
this member fetched itself, or that no other member holds, goes to the member's own piece server.
"""
from __future__ import annotations

import logging
import re

import requests

from dfcommon.http import make_session
from supernode.piece_server import piece_number


log = logging.getLogger(__name__)
_PATH_RE = re.compile(r"^/download/([0-9a-f]{3})/([0-9a-f]{64})$")
BLOCK = 1 << 20
_PASS = ("Content-Length", "Content-Range", "Content-Type", "Accept-Ranges")


class _Relay:
    def __init__(self, resp, metric, on_close):
        self._resp, self._metric, self._on_close = resp, metric, on_close

    def __iter__(self):
        for block in self._resp.iter_content(BLOCK):
            if block:
                self._metric.inc(len(block))
                yield block

    def close(self):
        self._resp.close()
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()


class PieceRelay:
    """WSGI middleware in front of the member's piece server."""

    def __init__(self, app, holders, node, on_sent=None, timeout=(3.05, 30.0)):
        self.app, self.holders, self.node, self.on_sent = app, holders, node, on_sent
        self.session = make_session(timeout=timeout, retries=0)
        self.timeout = timeout

    def source_of(self, task_id: str) -> str | None:
        """The piece server (scheme://host:port) of the member to fetch ``task_id`` from, or None (serve locally)."""
        server = self.holders.of(task_id)
        return server.url if server is not None else None

    def __call__(self, environ, start_response):
        m = _PATH_RE.match(environ.get("PATH_INFO", ""))
        if not m or environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return self.app(environ, start_response)
        task_id = m.group(2)
        source = self.source_of(task_id)
        if source is None:
            return self.app(environ, start_response)
        headers = {}
        for name in ("Range", "Authorization", "pieceNum", "pieceSize"):
            value = environ.get("HTTP_" + name.upper())
            if value:
                headers[name] = value
        url = source + environ["PATH_INFO"]
        try:
            resp = self.session.request(environ["REQUEST_METHOD"], url, headers=headers, stream=True,
                                        timeout=self.timeout)
        except requests.RequestException as e:
            log.warning("piece relay failed task=%s source=%s: %s", task_id, source, e)
            self.holders.forget(task_id)
            return self.app(environ, start_response)        # maybe this member has it after all
        if resp.status_code not in (200, 206):
            resp.close()
            return self.app(environ, start_response)
        out = [(k, resp.headers[k]) for k in _PASS if k in resp.headers]
        start_response(f"{resp.status_code} {resp.reason}", out)
        if environ["REQUEST_METHOD"] == "HEAD":
            resp.close()
            return [b""]
        on_close = None
        if self.on_sent is not None:
            start = _range_start(environ.get("HTTP_RANGE", ""))
            piece = piece_number(environ, start) if start is not None else None
            if piece is not None:
                on_close = lambda: self.on_sent(task_id, piece)     # noqa: E731
        return _Relay(resp, self.node.metrics.cross_member_bytes, on_close)


def _range_start(value: str) -> int | None:
    m = re.match(r"^bytes=(\d+)-", value.strip())
    return int(m.group(1)) if m else None
