"""A gevent WSGI server for the data paths: TCP_NODELAY on every connection, os.sendfile for file bodies.

Nagle: gevent.pywsgi writes a response's status line and headers with one ``sendall`` and the
body with another. With Nagle on, that second write waits for the peer to acknowledge the
first, and a peer with delayed ACKs holds that acknowledgement for about 40 ms: every request
on a kept-alive connection then costs 40 ms however small it is (the scheduler's ``/peer/task``
and ``/peer/piece/suc`` replies, and the start of every piece body). ``TCP_NODELAY`` on each
accepted socket removes the stall; bodies still go out in large writes.

sendfile: gevent.pywsgi offers no ``wsgi.file_wrapper`` and gevent's own ``socket.sendfile``
falls back to 8 KiB ``send`` calls. An app may return a body with a ``sendfile_spec()`` method
(:class:`FileRange`, or the upload server's piece stream); :class:`SendfileHandler` then sends
the headers as pywsgi would and the file range with ``os.sendfile`` in 1 MiB steps, waiting
cooperatively whenever the socket is full. Anything else (TLS sockets, chunked replies, other
bodies, other servers) is iterated as usual, so the bytes on the wire are the same either way.
"""
from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from typing import Callable, Optional

from gevent.pywsgi import WSGIHandler, WSGIServer
from gevent.socket import wait_write

from .limits import LimitsMixin, ListenerLimits

log = logging.getLogger(__name__)

BLOCK = 1 << 20


def set_nodelay(sock) -> bool:
    """Turn off Nagle on a TCP socket; False (and nothing changed) for other socket kinds."""
    if getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return True
    except OSError as e:                 # the peer may already be gone; the request then fails normally
        log.debug("TCP_NODELAY not set error=%s", e)
        return False


@dataclass
class SendfileSpec:
    """What to send: ``prefix``, then ``count`` bytes of ``fd`` from ``offset``, then ``suffix``."""
    fd: int
    offset: int
    count: int
    prefix: bytes = b""
    suffix: bytes = b""
    pace: Optional[Callable[[int], None]] = None      # called before each block (a rate limiter)
    sent: Optional[Callable[[int], None]] = None      # called as each block goes out (metrics)
    step: int = BLOCK                                 # bytes per block (smaller when paced: shorter bursts)


class FileRange:
    """A WSGI body of ``count`` bytes of an open file from ``offset``; owns and closes ``fd``.

    Iterating it reads 1 MiB blocks with ``os.pread`` (any WSGI server); :class:`SendfileHandler`
    sends it with ``os.sendfile`` instead. ``sent(n)`` is called as each block goes out either way,
    and ``pace(n)`` (a rate limiter) before it; ``step`` is the sendfile block (smaller when paced).
    ``on_close()`` is called once when the server is done with the body (sent, or the client went away).
    """

    def __init__(self, fd: int, offset: int, count: int, sent: Optional[Callable[[int], None]] = None,
                 block: int = BLOCK, pace: Optional[Callable[[int], None]] = None, step: int = BLOCK,
                 on_close: Optional[Callable[[], None]] = None):
        self.fd, self.offset, self.count, self.sent, self.block = fd, offset, count, sent, block
        self.pace, self.step, self.on_close = pace, step, on_close

    def sendfile_spec(self) -> SendfileSpec:
        return SendfileSpec(self.fd, self.offset, self.count, pace=self.pace, sent=self.sent, step=self.step)

    def __iter__(self):
        pos, left = self.offset, self.count
        while left > 0 and self.fd >= 0:
            if self.pace is not None:
                self.pace(min(self.block, left))
            data = os.pread(self.fd, min(self.block, left), pos)
            if not data:
                return
            pos += len(data)
            left -= len(data)
            if self.sent is not None:
                self.sent(len(data))
            yield data

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)
            if self.on_close is not None:
                self.on_close()


class SendfileHandler(LimitsMixin, WSGIHandler):
    """pywsgi's handler, plus the os.sendfile path for bodies with ``sendfile_spec()`` and the listener limits."""

    def process_result(self):
        spec_of = getattr(self.result, "sendfile_spec", None)
        if spec_of is None or hasattr(self.socket, "getpeercert"):      # not a file body, or TLS
            return super().process_result()
        first_block = getattr(self.result, "wait_first_block", None)
        if first_block is not None:             # a file still being written: headers go out with its first bytes
            first_block()
        self.write(b"")                         # the status line and headers, exactly as pywsgi sends them
        if self.response_use_chunked:
            return super().process_result()     # no Content-Length: pywsgi frames the iterated body
        spec = spec_of()
        if spec.prefix:
            self._sendall(spec.prefix)
        if self._sendfile(spec) and spec.suffix:
            self._sendall(spec.suffix)

    def _sendfile(self, spec: SendfileSpec) -> bool:
        """Send the file range; False (connection to be closed) when the file is shorter than announced."""
        out, offset, left = self.socket.fileno(), spec.offset, spec.count
        while left > 0:
            n = min(spec.step or BLOCK, left)
            if spec.pace is not None:
                spec.pace(n)
            if spec.sent is not None:           # counted as it goes out, like an iterated block
                spec.sent(n)
            done = 0
            while done < n:
                try:
                    k = os.sendfile(out, spec.fd, offset + done, n - done)
                except BlockingIOError:
                    limits = getattr(self.server, "limits", None)
                    try:        # a client that stops reading is dropped after read_timeout
                        wait_write(out, timeout=limits.read_timeout if limits and limits.read_timeout else None)
                    except OSError as e:
                        self.status = f"socket error: {e}"
                        if self.code > 0:
                            self.code = -self.code
                        raise
                    continue
                except OSError as e:
                    self.status = f"socket error: {e}"
                    if self.code > 0:
                        self.code = -self.code
                    raise
                if k == 0:
                    log.warning("file body ended early offset=%d missing=%d", offset + done, left - done)
                    self.close_connection = True
                    return False
                done += k
            offset += n
            left -= n
            self.response_length += n
        return True


class NoDelayWSGIServer(WSGIServer):
    """``gevent.pywsgi.WSGIServer`` with ``TCP_NODELAY`` on every accepted connection and the sendfile path."""

    handler_class = SendfileHandler

    def __init__(self, *args, limits: ListenerLimits | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.limits = limits if limits is not None else ListenerLimits()

    def handle(self, sock, address):
        set_nodelay(sock)
        return super().handle(sock, address)
