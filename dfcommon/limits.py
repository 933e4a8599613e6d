"""Per-connection limits of the gevent listeners: request head size and time, slow-client read timeout.

:class:`ListenerLimits` is given to :class:`dfcommon.wsgi_server.NoDelayWSGIServer` (``limits=``); every
listener of the supernode (API, piece server) and of the dfdaemon (mirror, upload server) uses that server.

- ``head_timeout``: the request line and headers must arrive within this time of the connection waiting
  for them (a slowloris client trickling header bytes is cut off: ``408``, connection closed). An idle
  kept-alive connection is closed after the same time.
- ``read_timeout``: any single read or write on the connection that makes no progress for this long ends
  the connection (a client that stops sending its body or stops reading its response).
- ``max_header_bytes``: request headers larger in total get ``431``; the request line is limited by
  gevent (8 KiB, ``414``), the number of header lines by the standard library (100, ``400``).

Each refusal calls ``on_limit(kind)`` (``head_timeout``, ``header_size``), which the process counts.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Optional

import gevent

log = logging.getLogger(__name__)

def _reply(status: str, text: str) -> bytes:
    body = text.encode()
    return (f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


HEADERS_TOO_LARGE = _reply("431 Request Header Fields Too Large", "request header fields too large")
REQUEST_TIMEOUT = _reply("408 Request Timeout", "request head not received in time")


@dataclass
class ListenerLimits:
    head_timeout: float = 30.0
    read_timeout: float = 60.0
    max_header_bytes: int = 64 << 10
    on_limit: Optional[Callable[[str], None]] = None

    def hit(self, kind: str, peer) -> None:
        log.info("request refused limit=%s client=%s", kind, peer[0] if isinstance(peer, tuple) else peer)
        if self.on_limit is not None:
            try:
                self.on_limit(kind)
            except Exception:           # a metric must never break the listener
                log.exception("limit callback failed")


def header_bytes(headers) -> int:
    return sum(len(k) + len(v) + 4 for k, v in headers.items())


class LimitsMixin:
    """For a ``gevent.pywsgi.WSGIHandler`` subclass; reads ``self.server.limits``."""

    def handle_one_request(self):
        limits: ListenerLimits | None = getattr(self.server, "limits", None)
        if limits is None:
            return super().handle_one_request()
        if limits.read_timeout and self.socket is not None:
            self.socket.settimeout(limits.read_timeout)
        self._df_limits = limits
        self._df_deadline = gevent.Timeout(limits.head_timeout) if limits.head_timeout else None
        if self._df_deadline is not None:
            self._df_deadline.start()
        try:
            return super().handle_one_request()
        except gevent.Timeout as t:
            if t is not self._df_deadline:
                raise
            limits.hit("head_timeout", self.client_address)
            return ("408", REQUEST_TIMEOUT)
        finally:
            self._cancel_deadline()

    def _cancel_deadline(self):
        deadline = getattr(self, "_df_deadline", None)
        if deadline is not None:
            deadline.close()
            self._df_deadline = None

    def read_request(self, raw_requestline):
        ok = super().read_request(raw_requestline)
        self._cancel_deadline()             # the head is in: the app's own time starts
        limits = getattr(self, "_df_limits", None)
        if ok and limits is not None and limits.max_header_bytes and \
                header_bytes(self.headers) > limits.max_header_bytes:
            limits.hit("header_size", self.client_address)
            raise _HeadersTooLarge()
        return ok

    def _handle_client_error(self, ex):
        if isinstance(ex, _HeadersTooLarge):
            self.close_connection = True
            return ("431", HEADERS_TOO_LARGE)
        return super()._handle_client_error(ex)


class _HeadersTooLarge(ValueError):
    pass
