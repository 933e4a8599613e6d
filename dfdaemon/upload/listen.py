"""The upload server's listening socket: Dragonfly's port choice, bound by whoever starts the server.

The launcher binds the socket itself and hands it to the ``dfget server`` child (``--listen-fd``),
so the downloader knows its upload port at once and registers with the supernode while the child
is still starting; a peer that connects early waits in the listen backlog until the child accepts.
"""
from __future__ import annotations

import errno
import logging
import socket
import time

log = logging.getLogger(__name__)

PORT_TRIES = 10
BACKLOG = 128


def candidate_ports(now: float | None = None, tries: int = PORT_TRIES) -> list[int]:
    """Dragonfly's port choice: ``(unix_time/300) % 50000 + 15000 + i`` for i < tries."""
    base = (int(now if now is not None else time.time()) // 300) % 50000 + 15000
    return [base + i for i in range(tries)]


def _listen(ip: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def bind_listener(ip: str = "0.0.0.0", port: int = 0) -> socket.socket:
    """A listening socket on ``port``, or (port 0) on the first free formula port, else an ephemeral one."""
    ip = ip or "0.0.0.0"
    if port:
        return _listen(ip, port)
    for candidate in candidate_ports():
        try:
            return _listen(ip, candidate)
        except OSError as e:
            if e.errno not in (errno.EADDRINUSE, errno.EACCES):
                raise
            log.debug("upload port busy port=%d", candidate)
    log.info("all formula ports busy, using an ephemeral port")
    return _listen(ip, 0)
