"""Who may use the dfdaemon's mirror/proxy listener (``port`` on ``host_ip``).

The listener pulls images with this host's registry credentials and proxies HTTP for its clients, so it is
meant for the local host. Rules:

- ``host_ip`` on loopback (``127.0.0.0/8``, ``::1``, ``localhost``): only local clients can connect; nothing
  else is checked (unchanged behaviour).
- any other ``host_ip`` (``0.0.0.0``, a host or pod address): the start is refused unless ``allowed_clients``
  lists the networks that may connect, or ``client_auth: none`` says the operator accepts an open listener.
- with ``allowed_clients`` set (any bind), a connection from an address outside the list and not on loopback
  gets ``403`` and is closed before any request is handled (CONNECT tunnels included); loopback clients are
  always allowed (the host's own runtimes).
"""
from __future__ import annotations

import ipaddress
import json
import logging
import socket

from dfcommon.errors import ConfigError

log = logging.getLogger(__name__)

CLIENT_AUTH_MODES = ("auto", "none")
_HEAD_LIMIT = 64 << 10


def parse_networks(entries, where: str = "allowed_clients") -> tuple:
    if not isinstance(entries, (list, tuple)):
        raise ConfigError(f"{where} must be a list of addresses or networks (CIDR), got {entries!r}")
    out = []
    for i, entry in enumerate(entries):
        try:
            out.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise ConfigError(f"{where}[{i}]: {entry!r} is not an address or network (CIDR)") from None
    return tuple(out)


def is_loopback_bind(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def _address(text: str):
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


class ClientGuard:
    """Decides from a client's address alone; built once by the server from the config."""

    def __init__(self, networks=(), on_refused=None):
        self.networks = tuple(networks)
        self.on_refused = on_refused

    def allows(self, client_ip: str) -> bool:
        addr = _address(client_ip)
        if addr is None:
            return False
        return addr.is_loopback or any(addr.version == n.version and addr in n for n in self.networks)

    def refuse(self, sock, rfile, client_ip: str) -> None:
        """Read the request head (so the client sees the reply, not a reset), answer 403, close."""
        if self.on_refused is not None:
            self.on_refused()
        log.warning("client refused address=%s reason=not in allowed_clients", client_ip)
        try:
            sock.settimeout(5)
            seen = 0
            while seen < _HEAD_LIMIT:
                line = rfile.readline(8192)
                seen += len(line)
                if not line or line in (b"\r\n", b"\n"):
                    break
            body = json.dumps({"errors": [{"code": "DENIED", "message": f"client {client_ip} is not in this "
                                           "dfdaemon's allowed_clients", "detail": None}]}).encode()
            sock.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nConnection: close\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        except (OSError, socket.timeout):
            pass


def check_listener(config) -> ClientGuard | None:
    """Refuse an open non-loopback listener (ConfigError naming the settings); the guard to use, or None."""
    networks = parse_networks(config.allowed_clients)
    if config.client_auth not in CLIENT_AUTH_MODES:
        raise ConfigError(f"client_auth must be one of {', '.join(CLIENT_AUTH_MODES)}, got {config.client_auth!r}")
    if networks:
        return ClientGuard(networks)
    if is_loopback_bind(config.host_ip) or config.client_auth == "none":
        if not is_loopback_bind(config.host_ip):
            log.warning("client_auth none: the mirror/proxy on %s:%d accepts every client that reaches it",
                        config.host_ip, config.port)
        return None
    raise ConfigError(
        f"host_ip {config.host_ip} makes the mirror/proxy listener (port {config.port}) reachable from other "
        "hosts, and anyone reaching it could pull with this host's registry credentials and use it as a proxy: "
        "set allowed_clients to the networks that may use it (e.g. allowed_clients: [10.0.0.0/8]), or "
        "client_auth: none to accept every client (unsafe), or bind host_ip: 127.0.0.1")
