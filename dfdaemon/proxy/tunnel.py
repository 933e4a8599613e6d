"""CONNECT targets and blind TCP tunnels between a client and an upstream, on gevent sockets."""
from __future__ import annotations

import logging
import re
import socket as stdsocket

import gevent
from gevent import socket

from dfcommon.errors import DfError

log = logging.getLogger(__name__)

CHUNK = 64 << 10
_HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


def parse_target(target: str) -> tuple[str, int]:
    """``host:port`` of a CONNECT request line; a missing or bad port is a 400."""
    m = _HOST.match(target or "")
    if not m:
        raise DfError("INVALID_PARAM", f"CONNECT target {target!r} must be host:port")
    port = int(m.group(2))
    if not 0 < port < 65536:
        raise DfError("INVALID_PARAM", f"CONNECT target {target!r} has an invalid port")
    return m.group(1).strip("[]"), port


def open_upstream(host: str, port: int, timeout: float) -> socket.socket:
    """Connect to ``host:port`` within ``timeout`` seconds (name resolution included)."""
    where = f"{host}:{port}"
    try:
        with gevent.Timeout(timeout, TimeoutError):
            return socket.create_connection((host, port), timeout=timeout)
    except TimeoutError:
        raise DfError("UPSTREAM_ERROR", f"connecting to {where} timed out", http_status=504) from None
    except stdsocket.gaierror as e:
        raise DfError("UPSTREAM_ERROR", f"cannot resolve {host}: {e.strerror or e}") from None
    except OSError as e:
        raise DfError("UPSTREAM_ERROR", f"cannot connect to {where}: {e.strerror or e}") from None


def _pump(read, dst, label: str) -> int:
    total = 0
    try:
        while True:
            data = read(CHUNK)
            if not data:
                break
            dst.sendall(data)
            total += len(data)
    except (OSError, ValueError) as e:      # reset, idle timeout, or the other side closed it
        log.debug("tunnel direction=%s ended error=%s", label, e)
        raise
    try:
        dst.shutdown(stdsocket.SHUT_WR)
    except OSError:
        pass
    return total


def splice(client_read, client: socket.socket, upstream: socket.socket, idle_timeout: float) -> tuple[int, int]:
    """Copy bytes both ways until both sides finish; an error or idle timeout on either ends both.

    ``client_read`` reads from the client (the buffered request reader, so bytes the client sent
    right after the CONNECT headers are not lost). Returns (bytes up, bytes down).
    """
    client.settimeout(idle_timeout)
    upstream.settimeout(idle_timeout)
    up = gevent.spawn(_pump, client_read, upstream, "up")
    down = gevent.spawn(_pump, upstream.recv, client, "down")
    try:
        for done in gevent.iwait([up, down]):
            if not done.successful():
                break
    finally:
        for s in (client, upstream):        # shutdown wakes a reader blocked on a buffered file too
            for op in (lambda: s.shutdown(stdsocket.SHUT_RDWR), s.close):
                try:
                    op()
                except OSError:
                    pass
        gevent.joinall([up, down], timeout=idle_timeout)
        gevent.killall([g for g in (up, down) if not g.dead], block=False)
    return (up.value or 0), (down.value or 0)
