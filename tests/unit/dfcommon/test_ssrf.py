"""The fetch policy and guarded sessions against real HTTP servers on loopback addresses."""
from __future__ import annotations

from http.server import BaseHTTPRequestHandler

import pytest
import requests

from dfcommon.errors import ConfigError
from dfcommon.http import make_session
from dfcommon.ssrf import FetchPolicy, FetchRefused, guard_session
from tests.helpers import serve_http


def _server(host: str, routes: dict):
    """``routes``: path -> (status, headers, body)."""
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        hits = []

        def log_message(self, *a):
            pass

        def do_GET(self):
            H.hits.append(self.path)
            status, headers, body = routes.get(self.path, (404, {}, b"no"))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    srv = serve_http(H, host=host)
    srv.hits = H.hits
    return srv


@pytest.fixture
def inner():
    srv = _server("127.0.0.1", {"/secret": (200, {}, b"internal")})
    yield srv
    srv.shutdown()


def _url(srv, path):
    host, port = srv.server_address[:2]
    return f"http://{host}:{port}{path}"


def test_defaults_refuse_metadata_link_local_and_loopback():
    reasons = []
    p = FetchPolicy(on_refused=reasons.append)
    for url, reason in (("http://169.254.169.254/latest/meta-data/", "metadata"),
                        ("http://[fd00:ec2::254]/latest/", "metadata"),
                        ("http://[fe80::1]/", "metadata"),
                        ("http://127.0.0.1:8002/api/v1/peers", "loopback"),
                        ("http://[::1]/", "loopback"),
                        ("http://[::ffff:127.0.0.1]/", "loopback"),
                        ("http://0.0.0.0:8002/", "loopback"),
                        ("http://localhost:9/", "loopback"),
                        ("file:///etc/passwd", "bad_url"),
                        ("gopher://x/", "bad_url")):
        with pytest.raises(FetchRefused) as e:
            p.check_url(url)
        assert e.value.reason == reason, url
    assert len(reasons) == 10
    p.check_url("http://10.1.2.3/v2/")         # private networks: registries usually live there
    p.check_url("https://93.184.216.34/x")


def test_allow_deny_and_allow_only():
    p = FetchPolicy(allow=["127.0.0.0/8", "registry.local"], deny=["10.9.0.0/16", "*.evil.test"])
    p.check_url("http://127.0.0.1:5000/v2/")
    with pytest.raises(FetchRefused, match="fetch.deny"):
        p.check_url("http://10.9.1.1/")
    with pytest.raises(FetchRefused, match="fetch.deny"):
        p.check_url("http://a.b.evil.test/")
    # an allow entry never opens the metadata addresses
    with pytest.raises(FetchRefused, match="metadata"):
        FetchPolicy(allow=["169.254.0.0/16", "0.0.0.0/0"]).check_url("http://169.254.169.254/")
    only = FetchPolicy(allow=["10.0.0.0/8"], allow_only=True)
    only.check_url("http://10.2.3.4/")
    with pytest.raises(FetchRefused, match="allow_only"):
        only.check_url("http://192.168.1.1/")


def test_bad_entries_are_config_errors():
    for bad in (["not a host!"], [""], [42]):
        with pytest.raises(ConfigError, match="fetch.allow"):
            FetchPolicy(allow=bad)


def test_guarded_session_fetches_allowed_and_refuses_loopback(inner):
    s = guard_session(make_session(timeout=(2, 5), retries=0), FetchPolicy())
    with pytest.raises(FetchRefused):
        s.get(_url(inner, "/secret"))
    assert inner.hits == []                     # refused before any connection
    ok = guard_session(make_session(timeout=(2, 5), retries=0), FetchPolicy(allow=["127.0.0.1"]))
    assert ok.get(_url(inner, "/secret")).content == b"internal"


def test_every_redirect_hop_is_checked(inner):
    # the outer server is allowed (127.0.0.2), the redirect goes to 127.0.0.1 which is not
    target = _url(inner, "/secret")
    outer = _server("127.0.0.2", {"/r1": (302, {"Location": "/r2"}, b""), "/r2": (307, {"Location": target}, b"")})
    try:
        s = guard_session(make_session(timeout=(2, 5), retries=0), FetchPolicy(allow=["127.0.0.2"]))
        with pytest.raises(FetchRefused) as e:
            s.get(_url(outer, "/r1"))
        assert e.value.host == "127.0.0.1" and e.value.reason == "loopback"
        assert outer.hits == ["/r1", "/r2"] and inner.hits == []
        # the metadata address in a redirect: refused whatever is allowed
        outer2 = _server("127.0.0.2", {"/m": (301, {"Location": "http://169.254.169.254/latest/"}, b"")})
        try:
            with pytest.raises(FetchRefused, match="metadata"):
                s.get(_url(outer2, "/m"))
        finally:
            outer2.shutdown()
    finally:
        outer.shutdown()


def test_connected_address_is_checked_after_resolution(inner):
    """A name that resolved to an allowed address when checked but connects to a refused one (DNS
    rebinding) is refused at the connection: the resolver here answers 10.1.1.1 for localhost."""
    port = inner.server_address[1]
    p = FetchPolicy(resolver=lambda host, port: ["10.1.1.1"])
    s = guard_session(make_session(timeout=(2, 5), retries=0), p)
    with pytest.raises(FetchRefused) as e:
        s.get(f"http://localhost:{port}/secret")
    assert e.value.reason == "loopback"
    assert inner.hits == []
    assert isinstance(e.value, requests.RequestException)


def test_allow_only_with_names_resolves_no_other_name():
    asked = []
    p = FetchPolicy(allow=["registry.local"], allow_only=True, resolver=lambda h, port: asked.append(h) or ["10.0.0.1"])
    with pytest.raises(FetchRefused, match="allow_only"):
        p.check_url("http://elsewhere.example/x")
    p.check_url("http://registry.local/v2/")
    assert asked == ["registry.local"]
