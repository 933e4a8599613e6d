"""Guard for URLs fetched on someone else's behalf (task sources, preheat registries, token realms).

A :class:`FetchPolicy` decides per destination:

- always refused: link-local and cloud metadata addresses (``169.254.0.0/16``, ``fe80::/10``,
  ``fd00:ec2::254``), whatever the lists say;
- refused: the ``deny`` entries (host names, ``*.suffix`` patterns, networks);
- refused unless an ``allow`` entry covers them: loopback (``127.0.0.0/8``, ``::1``) and the
  unspecified addresses (``0.0.0.0``, ``::``), which reach the supernode's own host;
- with ``allow_only``, everything that no ``allow`` entry covers.

Checked are the URL's host name and every address it resolves to, before each request and at every
redirect hop (:class:`GuardedSession` checks in ``send``, which requests calls for each hop), and the
address each new connection actually reached (:class:`GuardedAdapter`), so a name that resolves to a
public address when checked and to a denied one when connected (DNS rebinding) is refused too.
A refusal raises :class:`FetchRefused` (a ``requests.RequestException``) naming the host and the rule.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .errors import ConfigError

log = logging.getLogger(__name__)

ALWAYS_DENIED = tuple(ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128"))
LOCAL = tuple(ipaddress.ip_network(n) for n in ("127.0.0.0/8", "::1/128", "0.0.0.0/32", "::/128"))
LOOPBACK_ALLOW = ["127.0.0.0/8", "::1"]     # what test set-ups and `make run` allow (origins on loopback)


class FetchRefused(requests.RequestException):
    """A destination the fetch policy refuses; ``reason`` is a short label for metrics."""

    def __init__(self, host: str, reason: str, detail: str):
        super().__init__(f"fetch refused: {host} {detail}")
        self.host, self.reason, self.detail = host, reason, detail


class _PeerRefused(Exception):
    """Raised inside urllib3 (not an OSError, so it is neither retried nor wrapped)."""

    def __init__(self, refused: FetchRefused):
        super().__init__(str(refused))
        self.refused = refused


def _as_ip(text: str):
    try:
        ip = ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@dataclass
class _Entries:
    networks: list = field(default_factory=list)
    names: list = field(default_factory=list)       # exact names and ".suffix" (from "*.suffix")

    @classmethod
    def parse(cls, items, where: str) -> "_Entries":
        out = cls()
        if isinstance(items, str):
            items = [i.strip() for i in items.split(",") if i.strip()]
        for item in items or ():
            if not isinstance(item, str) or not item.strip():
                raise ConfigError(f"{where}: {item!r} is not a host name or network")
            text = item.strip().lower()
            try:
                out.networks.append(ipaddress.ip_network(text, strict=False))
                continue
            except ValueError:
                pass
            if text.startswith("*."):
                out.names.append(text[1:])
            elif all(c.isalnum() or c in "-._" for c in text):
                out.names.append(text.rstrip("."))
            else:
                raise ConfigError(f"{where}: {item!r} is not a host name, *.domain pattern or network")
        return out

    def has_name(self, host: str) -> bool:
        return any(host == n or (n.startswith(".") and host.endswith(n)) for n in self.names)

    def has_ip(self, ip) -> bool:
        return any(ip.version == n.version and ip in n for n in self.networks)


class FetchPolicy:
    def __init__(self, allow=(), deny=(), allow_only: bool = False, on_refused=None, resolver=None,
                 where: str = "fetch"):
        self.allow = _Entries.parse(allow, f"{where}.allow")
        self.deny = _Entries.parse(deny, f"{where}.deny")
        self.allow_only = allow_only
        self.on_refused = on_refused                  # f(reason) per refusal (a metric)
        self._resolve = resolver or _resolve

    @classmethod
    def from_config(cls, conf, on_refused=None) -> "FetchPolicy":
        return cls(conf.allow, conf.deny, conf.allow_only, on_refused=on_refused)

    def _refuse(self, host: str, reason: str, detail: str) -> FetchRefused:
        if self.on_refused is not None:
            self.on_refused(reason)
        log.warning("fetch refused host=%s reason=%s", host, reason)
        return FetchRefused(host, reason, detail)

    def ip_refusal(self, host: str, ip) -> FetchRefused | None:
        if any(ip.version == n.version and ip in n for n in ALWAYS_DENIED):
            return self._refuse(host, "metadata", f"({ip}) is a link-local or cloud metadata address, never fetched")
        if self.deny.has_ip(ip):
            return self._refuse(host, "denied", f"({ip}) is in fetch.deny")
        allowed = self.allow.has_ip(ip) or self.allow.has_name(host)
        if not allowed and any(ip.version == n.version and ip in n for n in LOCAL):
            return self._refuse(host, "loopback", f"({ip}) is this host; add it to fetch.allow to fetch from it")
        if not allowed and self.allow_only:
            return self._refuse(host, "not_allowed", f"({ip}) is not in fetch.allow (fetch.allow_only is on)")
        return None

    def check_url(self, url: str) -> None:
        """Raise :class:`FetchRefused` unless ``url`` may be fetched."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise self._refuse("?", "bad_url", "is not a valid URL") from None
        if parts.scheme not in ("http", "https") or not host:
            raise self._refuse(host or "?", "bad_url", "is not an http or https URL")
        if self.deny.has_name(host):
            raise self._refuse(host, "denied", "is in fetch.deny")
        ip = _as_ip(host)
        if ip is not None:
            addresses = [ip]
        elif self.allow_only and not self.allow.networks and not self.allow.has_name(host):
            raise self._refuse(host, "not_allowed", "is not in fetch.allow (fetch.allow_only is on)")
        else:
            try:
                addresses = [a for a in (_as_ip(x) for x in self._resolve(host, port)) if a is not None]
            except OSError:
                return          # unresolvable: the request fails with its own connection error
        for addr in addresses:
            refusal = self.ip_refusal(host, addr)
            if refusal is not None:
                raise refusal

    def check_peer(self, host: str, peer: str) -> None:
        ip = _as_ip(peer)
        if ip is not None:
            refusal = self.ip_refusal(host.lower(), ip)
            if refusal is not None:
                raise _PeerRefused(refusal)


def _resolve(host: str, port: int) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _guarded(conn_cls, policy: FetchPolicy):
    class Guarded(conn_cls):
        def _new_conn(self):
            sock = super()._new_conn()
            try:
                peer = sock.getpeername()[0]
                if not getattr(self, "_tunnel_host", None):     # through a proxy the peer is the proxy
                    policy.check_peer(self.host, peer)
            except BaseException:
                sock.close()
                raise
            return sock
    Guarded.__name__ = "Guarded" + conn_cls.__name__
    return Guarded


class GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter whose new connections are checked against the policy once connected."""

    def __init__(self, policy: FetchPolicy, **kw):
        self._policy = policy
        super().__init__(**kw)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        http = type("GuardedHTTPPool", (HTTPConnectionPool,),
                    {"ConnectionCls": _guarded(HTTPConnection, self._policy)})
        https = type("GuardedHTTPSPool", (HTTPSConnectionPool,),
                     {"ConnectionCls": _guarded(HTTPSConnection, self._policy)})
        self.poolmanager.pool_classes_by_scheme = {"http": http, "https": https}

    def __setstate__(self, state):      # pragma: no cover - adapters are not pickled here
        raise TypeError("GuardedAdapter cannot be unpickled")


def guard_session(session: requests.Session, policy: FetchPolicy) -> requests.Session:
    """Make ``session`` check every request and redirect hop against ``policy`` (returns it)."""
    for prefix, adapter in list(session.adapters.items()):
        guarded = GuardedAdapter(policy, max_retries=adapter.max_retries,
                                 pool_connections=adapter._pool_connections, pool_maxsize=adapter._pool_maxsize)
        session.mount(prefix, guarded)
    plain_send = session.send

    def send(request, **kw):
        policy.check_url(request.url)       # requests calls send again for every redirect hop
        try:
            return plain_send(request, **kw)
        except _PeerRefused as e:
            raise e.refused from None
    session.send = send
    session.fetch_policy = policy
    return session
