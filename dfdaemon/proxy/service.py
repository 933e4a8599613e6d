"""The proxy service: rules, interception, certificates, forwarding and P2P, built once and injected.

The dfdaemon's composition root builds one :class:`Proxy` from the ``proxies`` and
``hijack_https`` config sections (parsed by :mod:`dfdaemon.proxy.config`) and hands
``proxy.handler_class()`` to its gevent ``WSGIServer``.
"""
from __future__ import annotations

from dataclasses import dataclass

from dfcommon.errors import ConfigError

from .app import ProxyApp, downloader_fetch
from .certs import CACHE_SIZE, CertAuthority
from .config import HijackConfig, HijackHost, parse_hijack, parse_proxies
from .forward import Forwarder
from .handler import ProxyHandler
from .rules import HijackRules, ProxyRules


@dataclass(frozen=True)
class ProxySettings:
    """Time limits of proxy mode, in seconds."""
    connect_timeout: float = 5.0       # upstream TCP connect (and name resolution)
    read_timeout: float = 60.0         # upstream reply / between body blocks
    idle_timeout: float = 300.0        # a tunnel or intercepted connection with no traffic
    handshake_timeout: float = 15.0    # TLS handshake with an intercepted client
    cert_cache_size: int = CACHE_SIZE


class Proxy:
    """Everything the proxy handler needs. ``p2p_fetch(url, headers, **tls) -> iterable of bytes``."""

    def __init__(self, rules=(), hijack: HijackConfig | None = None, p2p_fetch=None,
                 settings: ProxySettings | None = None, forwarder: Forwarder | None = None,
                 certs: CertAuthority | None = None):
        self.settings = settings or ProxySettings()
        self.rules = ProxyRules(rules)
        self.hijack = HijackRules(hijack)
        if certs is None and self.hijack.enabled:
            certs = CertAuthority(self.hijack.config.cert, self.hijack.config.key,
                                  cache_size=self.settings.cert_cache_size)
        if self.hijack.config.hosts and certs is None:
            raise ConfigError("hijack_https: hosts are listed but no cert/key is configured")
        self.certs = certs
        self.forwarder = forwarder or Forwarder(self.settings.connect_timeout, self.settings.read_timeout)
        self.app = ProxyApp(self.rules, self.forwarder, self.hijack, p2p_fetch)

    def intercepts(self, target: str) -> HijackHost | None:
        """The hijack entry for a ``CONNECT`` target (``host:port``), or None for a blind tunnel."""
        return self.hijack.intercept(target) if self.certs is not None else None

    def handler_class(self) -> type[ProxyHandler]:
        """A ProxyHandler subclass bound to this service, for ``WSGIServer(handler_class=...)``."""
        return type("BoundProxyHandler", (ProxyHandler,), {"proxy": self})

    def close(self) -> None:
        self.forwarder.close()


def build_proxy(config, services=None) -> Proxy:
    """The Proxy for a dfdaemon config (``proxies``, ``hijack_https``) and its services (the downloader).

    Bad rules, regular expressions or certificate files raise :class:`ConfigError`.
    """
    downloader = getattr(services, "downloader", None)
    fetch = None
    if downloader is not None:
        filters = list(getattr(config, "task_filters", None) or [])
        fetch = downloader_fetch(downloader, filters=filters, notbs=True)
    return Proxy(parse_proxies(getattr(config, "proxies", None)), parse_hijack(getattr(config, "hijack_https", None)),
                 p2p_fetch=fetch)
