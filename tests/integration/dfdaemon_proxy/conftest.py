"""Fixtures: certificate files, local origins and a proxy factory that stops what it starts."""
from __future__ import annotations

import pytest
import requests

from dfdaemon.proxy import Proxy, ProxySettings, parse_hijack, parse_proxies

from .servers import EchoOrigin, ProxyServerThread, TcpEcho, origin_tls_context, write_ca


@pytest.fixture
def certs_dir(tmp_path):
    d = tmp_path / "certs"
    d.mkdir()
    return d


@pytest.fixture
def proxy_ca(certs_dir):
    """The dfdaemon's interception CA: (cert path, key path)."""
    _, _, crt, key = write_ca(str(certs_dir), "proxy-ca", "dfdaemon test CA")
    return crt, key


@pytest.fixture
def http_origin():
    srv = EchoOrigin()
    yield srv
    srv.stop()


@pytest.fixture
def https_origin(certs_dir):
    ctx, ca_path = origin_tls_context(str(certs_dir))
    srv = EchoOrigin(context=ctx)
    srv.ca_path = ca_path
    yield srv
    srv.stop()


@pytest.fixture
def tcp_echo():
    srv = TcpEcho()
    yield srv
    srv.stop()


@pytest.fixture
def start_proxy():
    """start_proxy(proxies=[...], hijack={...}, p2p_fetch=..., **settings) -> running ProxyServerThread."""
    started = []

    def start(proxies=None, hijack=None, p2p_fetch=None, **settings):
        proxy = Proxy(parse_proxies(proxies), parse_hijack(hijack), p2p_fetch=p2p_fetch,
                      settings=ProxySettings(**settings))
        srv = ProxyServerThread(proxy).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture
def client():
    """A requests session that ignores proxy variables from the environment."""
    s = requests.Session()
    s.trust_env = False
    yield s
    s.close()
