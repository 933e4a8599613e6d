"""Proxy rules: which rule a request URL matches, how it is rewritten, and whether it goes P2P.

The first ``proxies[]`` rule whose pattern is found in the full URL wins. ``use_https``
rewrites the scheme, ``redirect`` the host (the rewrites apply to every method); only a
``GET`` matched by a rule without ``direct`` goes through the P2P network. A URL that no
rule matches is passed through unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from .config import HijackConfig, HijackHost, ProxyRule

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Route:
    """Where a request goes: the (rewritten) URL, and P2P or direct."""
    url: str
    p2p: bool
    rule: ProxyRule | None = None


def authority(url: str) -> str:
    """``host:port`` of an absolute URL, with the scheme's default port filled in."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower(), 80)
    return f"{host}:{port}"


def rewrite(url: str, rule: ProxyRule) -> str:
    parts = urlsplit(url)
    scheme, netloc = parts.scheme, parts.netloc.rpartition("@")[2]
    if rule.use_https:
        scheme = "https"
    if rule.redirect:
        netloc = rule.redirect
    return urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))


class ProxyRules:
    """The ordered ``proxies[]`` list."""

    def __init__(self, rules=()):
        self.rules = list(rules)

    def match(self, url: str) -> ProxyRule | None:
        for rule in self.rules:
            if rule.match(url):
                return rule
        return None

    def route(self, method: str, url: str) -> Route:
        rule = self.match(url)
        if rule is None:
            return Route(url=url, p2p=False)
        return Route(url=rewrite(url, rule), p2p=method.upper() == "GET" and not rule.direct, rule=rule)


class HijackRules:
    """Which ``CONNECT host:port`` targets are intercepted, and the upstream TLS options per host."""

    def __init__(self, config: HijackConfig | None = None):
        self.config = config or HijackConfig()

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    def host_for(self, target: str) -> HijackHost | None:
        """The first hosts[] entry matching ``target`` (``host:port``), or None."""
        for host in self.config.hosts:
            if host.match(target):
                return host
        return None

    def intercept(self, target: str) -> HijackHost | None:
        """The entry to intercept ``target`` with, or None for a blind tunnel."""
        return self.host_for(target) if self.enabled else None
