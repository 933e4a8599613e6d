"""CONNECT on a real gevent server: blind tunnels to real TCP/TLS servers, TLS interception of
hijack hosts with a CA the client trusts, and clear errors for bad targets."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess

import pytest
import requests

from tests.helpers import free_port


def connect(port: int, target: str, timeout: float = 10.0):
    """Send a CONNECT and return (socket, status line, rest of the head, body bytes already read)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    return s, lines[0], lines[1:], rest


def read_body(s, already: bytes, headers) -> bytes:
    length = next(int(h.split(":", 1)[1]) for h in headers if h.lower().startswith("content-length:"))
    body = already
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            break
        body += chunk
    return body


def test_blind_tunnel_to_a_tcp_echo_server(start_proxy, tcp_echo):
    srv = start_proxy()
    s, status, _, rest = connect(srv.port, f"127.0.0.1:{tcp_echo.port}")
    assert status == "HTTP/1.1 200 Connection Established" and rest == b""
    payload = os.urandom(300_000)
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    assert got == payload


def test_blind_tunnel_carries_tls_end_to_end(start_proxy, https_origin, client):
    srv = start_proxy()          # no hijack config: the client talks TLS with the origin itself
    r = client.get(https_origin.url("/through", host="localhost"), proxies={"https": srv.url},
                   verify=https_origin.ca_path, timeout=10)
    assert r.status_code == 200 and r.json()["path"] == "/through"


def test_host_not_matching_a_hijack_rule_is_tunnelled(start_proxy, https_origin, proxy_ca, client):
    crt, key = proxy_ca
    srv = start_proxy(hijack={"cert": crt, "key": key, "hosts": [{"regx": r"^registry\.example\.com:"}]})
    r = client.get(https_origin.url("/plain", host="localhost"), proxies={"https": srv.url},
                   verify=https_origin.ca_path, timeout=10)
    assert r.status_code == 200
    assert srv.proxy.certs.issued == 0


def test_hijacked_host_is_served_with_a_leaf_from_the_ca(start_proxy, https_origin, proxy_ca, client):
    crt, key = proxy_ca
    srv = start_proxy(hijack={"cert": crt, "key": key,
                              "hosts": [{"regx": "^localhost:", "certs": [https_origin.ca_path]}]})
    for i in range(2):
        r = client.get(https_origin.url(f"/v2/x/manifests/{i}", host="localhost"), proxies={"https": srv.url},
                       verify=crt, timeout=10, headers={"Authorization": "Bearer t"})
        assert r.status_code == 200
        seen = r.json()
        assert seen["path"] == f"/v2/x/manifests/{i}"
        assert ["Authorization", "Bearer t"] in seen["headers"]
    # the origin never saw the client's handshake, the proxy did; one leaf was reused
    assert srv.proxy.certs.issued == 1 and srv.proxy.certs.cached_hosts() == ["localhost"]
    # a client that trusts only the origin's CA refuses the proxy's leaf
    with pytest.raises(requests.exceptions.SSLError):
        client.get(https_origin.url("/x", host="localhost"), proxies={"https": srv.url},
                   verify=https_origin.ca_path, timeout=10)


def test_hijacked_requests_go_through_the_rules_and_p2p(start_proxy, https_origin, proxy_ca, client):
    crt, key = proxy_ca
    calls = []

    def fetch(url, headers, **kw):
        calls.append((url, kw))
        return iter([b"from-", b"p2p"])

    srv = start_proxy(proxies=[{"regx": "blobs/sha256"}],
                      hijack={"cert": crt, "key": key,
                              "hosts": [{"regx": "^localhost:", "certs": [https_origin.ca_path]}]},
                      p2p_fetch=fetch)
    url = https_origin.url("/v2/a/blobs/sha256:abc", host="localhost")
    r = client.get(url, proxies={"https": srv.url}, verify=crt, timeout=10)
    assert r.status_code == 200 and r.content == b"from-p2p"
    assert calls == [(url, {"insecure": False, "cacerts": [https_origin.ca_path]})]
    assert https_origin.seen == []


def test_hijack_with_an_insecure_upstream(start_proxy, https_origin, proxy_ca, client):
    crt, key = proxy_ca
    srv = start_proxy(hijack={"cert": crt, "key": key, "hosts": [{"regx": "^localhost:", "insecure": True}]})
    r = client.get(https_origin.url("/insecure", host="localhost"), proxies={"https": srv.url}, verify=crt,
                   timeout=10)
    assert r.status_code == 200 and r.json()["path"] == "/insecure"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_trusting_the_ca_through_a_hijack(start_proxy, https_origin, proxy_ca):
    crt, key = proxy_ca
    srv = start_proxy(hijack={"cert": crt, "key": key,
                              "hosts": [{"regx": "^localhost:", "certs": [https_origin.ca_path]}]})
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    out = subprocess.run(["curl", "-sS", "--max-time", "20", "--proxy", srv.url, "--cacert", crt,
                          https_origin.url("/curl", host="localhost")], capture_output=True, text=True, env=env,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["path"] == "/curl"


@pytest.mark.parametrize("target, status, words", [
    ("example.com", 400, "must be host:port"),
    ("127.0.0.1:99999", 400, "invalid port"),
    ("nonexistent.invalid:443", 502, "cannot resolve"),
])
def test_bad_connect_targets(start_proxy, target, status, words):
    srv = start_proxy()
    s, line, headers, rest = connect(srv.port, target)
    body = json.loads(read_body(s, rest, headers))
    s.close()
    assert line.startswith(f"HTTP/1.1 {status}")
    assert words in body["message"] and body["status"] == status


def test_refused_connect_target_is_a_502(start_proxy):
    srv = start_proxy()
    s, line, headers, rest = connect(srv.port, f"127.0.0.1:{free_port()}")
    body = json.loads(read_body(s, rest, headers))
    s.close()
    assert line.startswith("HTTP/1.1 502") and "cannot connect" in body["message"]


def test_connect_to_a_silent_host_ends_with_a_timeout(start_proxy):
    """A listener that never accepts (backlog full) makes connect hang; the proxy answers anyway."""
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(0)
    fillers = []
    try:
        port = blocker.getsockname()[1]
        for _ in range(8):      # fill the accept queue so further connects are not completed
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(("127.0.0.1", port))
            fillers.append(f)
        srv = start_proxy(connect_timeout=1.0)
        s, line, headers, rest = connect(srv.port, f"127.0.0.1:{port}", timeout=20)
        s.close()
        assert line.split()[1] in ("502", "504")
    finally:
        for f in fillers:
            f.close()
        blocker.close()
