"""dfdaemon HTTP(S) proxy mode: proxy rules, CONNECT tunnels, HTTPS interception, ``gen-ca``."""
from .app import ProxyApp, downloader_fetch
from .certs import CertAuthority, generate_ca, issue_leaf
from .config import HijackConfig, HijackHost, ProxyRule, parse_hijack, parse_proxies
from .forward import Forwarder, StreamAborted, TlsOptions
from .handler import ProxyHandler
from .rules import HijackRules, ProxyRules, Route
from .service import Proxy, ProxySettings, build_proxy

__all__ = ["CertAuthority", "Forwarder", "HijackConfig", "HijackHost", "HijackRules", "Proxy", "ProxyApp",
           "ProxyHandler", "ProxyRule", "ProxyRules", "ProxySettings", "Route", "StreamAborted", "TlsOptions",
           "build_proxy", "downloader_fetch", "generate_ca", "issue_leaf", "parse_hijack", "parse_proxies"]
