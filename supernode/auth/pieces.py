"""Peer tokens on the piece path: the extra PieceInfo fields of a 601 reply and the piece server's check.

:class:`PieceInfoExtras` adds, next to ``peerIp``, an optional ``scheme`` (``https`` when the serving side
speaks TLS; absent means http) and, when auth is on, a ``token`` signed for (task, requesting cid, serving
cid or ``supernode``, served path). Go dfget ignores both unknown fields.

:class:`PieceServerGuard` wraps the piece server: ``/download/<id[:3]>/<task id>`` is served only with
``Authorization: Bearer <token>`` valid for that task and ``dst`` supernode; 401 otherwise (403 for a valid
token of another task), and no byte of the file.
"""
from __future__ import annotations

import logging
import re

from dfcommon.tokens import AUD_PEER, DST_SUPERNODE, TokenError, bearer_of

log = logging.getLogger(__name__)

_PATH_RE = re.compile(r"^/download/[0-9a-f]{3}/([0-9a-f]{64})$")


class PieceInfoExtras:
    def __init__(self, signer=None, ttl: float = 600.0, supernode_scheme: str = "http"):
        self.signer, self.ttl, self.supernode_scheme = signer, ttl, supernode_scheme

    def apply(self, info: dict, task_id: str, requester_cid: str, from_supernode: bool,
              peer_scheme: str = "http") -> dict:
        scheme = self.supernode_scheme if from_supernode else (peer_scheme or "http")
        if scheme != "http":
            info["scheme"] = scheme
        if self.signer is not None:
            dst = DST_SUPERNODE if from_supernode else info.get("cid", "")
            info["token"] = self.signer.peer_token(task_id, requester_cid, dst, self.ttl,
                                                   path=None if from_supernode else info.get("path"))
        return info


class PieceServerGuard:
    """WSGI middleware in front of the piece server."""

    def __init__(self, app, verifier):
        self.app, self.verifier = app, verifier

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        m = _PATH_RE.match(path)
        if m is None:
            return self.app(environ, start_response)          # 404/405 as usual, nothing to protect
        try:
            self.verifier.verify(bearer_of(environ.get("HTTP_AUTHORIZATION")), AUD_PEER, ("peer",),
                                 task=m.group(1), dst=DST_SUPERNODE)
        except TokenError as e:
            log.info("piece request refused task=%s status=%d reason=%s", m.group(1), e.status, e.message)
            body = f"{'unauthorized' if e.status == 401 else 'forbidden'}: {e.message}".encode()
            status = "401 Unauthorized" if e.status == 401 else "403 Forbidden"
            error = "invalid_token" if e.status == 401 else "insufficient_scope"
            start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                                    ("Content-Length", str(len(body))),
                                    ("WWW-Authenticate", f'Bearer realm="supernode", error="{error}"')])
            return [body]
        return self.app(environ, start_response)
