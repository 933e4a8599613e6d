"""Absolute-URL requests through the proxy handler on a real gevent server: rules, streaming,
repeated headers, bodies, P2P through an injected fetch (a real direct download here)."""
from __future__ import annotations

import http.client
import json

import pytest
import requests

from tests.helpers import free_port


def proxies(srv):
    return {"http": srv.url, "https": srv.url}


class RecordingFetch:
    """The injected p2p_fetch: records its calls and downloads the URL directly with requests."""

    def __init__(self, fail_first=False, fail_after=None):
        self.calls, self.fail_first, self.fail_after = [], fail_first, fail_after

    def __call__(self, url, headers, **kw):
        self.calls.append((url, list(headers), kw))
        if self.fail_first:
            raise RuntimeError("no peer and no supernode")
        r = requests.get(url, headers=dict(headers), stream=True, timeout=(5, 30))
        r.raise_for_status()
        return self._blocks(r)

    def _blocks(self, r):
        sent = 0
        for block in r.iter_content(1 << 20):
            if self.fail_after is not None and sent >= self.fail_after:
                raise RuntimeError("peer went away")
            sent += len(block)
            yield block


def test_relative_paths_reach_the_mirror_app(start_proxy, client):
    srv = start_proxy()
    r = client.get(srv.url + "/v2/library/nginx/manifests/latest", timeout=10)
    assert r.status_code == 200 and r.text == "mirror:/v2/library/nginx/manifests/latest"


def test_unmatched_absolute_url_passes_through(start_proxy, http_origin, client):
    srv = start_proxy()
    r = client.get(http_origin.url("/plain?q=1"), proxies=proxies(srv), timeout=10,
                   headers={"Authorization": "Bearer abc", "Proxy-Authorization": "Basic c2VjcmV0"})
    assert r.status_code == 200
    seen = r.json()
    names = [k.lower() for k, _ in seen["headers"]]
    assert seen["path"] == "/plain?q=1"
    assert ("Authorization", "Bearer abc") in [tuple(h) for h in seen["headers"]]
    assert "proxy-authorization" not in names
    assert dict((k.lower(), v) for k, v in seen["headers"])["host"] == f"127.0.0.1:{http_origin.port}"


def test_repeated_headers_are_kept_both_ways(start_proxy, http_origin):
    srv = start_proxy()
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.putrequest("GET", http_origin.url("/multi"), skip_accept_encoding=True)
    conn.putheader("Accept", "application/vnd.oci.image.index.v1+json")
    conn.putheader("Accept", "application/vnd.docker.distribution.manifest.v2+json")
    conn.endheaders()
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    accepts = [v for k, v in body["headers"] if k.lower() == "accept"]
    assert accepts == ["application/vnd.oci.image.index.v1+json",
                       "application/vnd.docker.distribution.manifest.v2+json"]
    assert [v for k, v in resp.getheaders() if k.lower() == "x-multi"] == ["one", "two"]


def test_request_bodies_and_large_responses_stream(start_proxy, http_origin, client):
    srv = start_proxy()
    payload = bytes(range(256)) * 12000                        # ~3 MiB
    r = client.put(http_origin.url("/upload"), data=payload, proxies=proxies(srv), timeout=30)
    assert r.json()["body_len"] == len(payload)
    r = client.post(http_origin.url("/chunked"), data=iter([b"a" * 1000, b"b" * 2000]), proxies=proxies(srv),
                    timeout=30)
    assert r.json()["body_len"] == 3000
    size = 5 * (1 << 20) + 7
    r = client.get(http_origin.url(f"/bytes/{size}"), proxies=proxies(srv), stream=True, timeout=30)
    assert r.headers["Content-Length"] == str(size)
    assert sum(len(b) for b in r.iter_content(1 << 20)) == size
    r = client.head(http_origin.url("/bytes/100"), proxies=proxies(srv), timeout=10)
    assert r.status_code == 200 and r.headers["Content-Length"] == "100" and r.content == b""


def test_redirects_are_handed_to_the_client(start_proxy, http_origin, client):
    srv = start_proxy()
    r = client.get(http_origin.url("/redirect"), proxies=proxies(srv), allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == "/elsewhere"


def test_redirect_rule_rewrites_the_host(start_proxy, http_origin, client):
    srv = start_proxy(proxies=[{"regx": r"^http://registry\.example\.invalid/", "direct": True,
                                "redirect": f"127.0.0.1:{http_origin.port}"}])
    r = client.get("http://registry.example.invalid/v2/x", proxies=proxies(srv), timeout=10)
    assert r.status_code == 200 and r.json()["path"] == "/v2/x"


def test_use_https_rule_upgrades_with_the_hijack_host_roots(start_proxy, https_origin, proxy_ca, client):
    crt, key = proxy_ca
    srv = start_proxy(proxies=[{"regx": "localhost", "use_https": True, "direct": True}],
                      hijack={"cert": crt, "key": key,
                              "hosts": [{"regx": "^localhost:", "certs": [https_origin.ca_path]}]})
    r = client.get(f"http://localhost:{https_origin.port}/secure", proxies=proxies(srv), timeout=10)
    assert r.status_code == 200 and r.json()["path"] == "/secure"


def test_https_upstream_with_unknown_roots_is_a_502(start_proxy, https_origin, client):
    srv = start_proxy(proxies=[{"regx": "localhost", "use_https": True, "direct": True}])
    r = client.get(f"http://localhost:{https_origin.port}/secure", proxies=proxies(srv), timeout=10)
    assert r.status_code == 502
    assert r.json()["code"] == "UPSTREAM_ERROR" and "TLS" in r.json()["message"]


def test_p2p_rules_call_the_injected_fetch_for_get_only(start_proxy, http_origin, client):
    fetch = RecordingFetch()
    srv = start_proxy(proxies=[{"regx": "/bytes/"}, {"regx": "/direct/", "direct": True}], p2p_fetch=fetch)
    size = (3 << 20) + 11
    r = client.get(http_origin.url(f"/bytes/{size}"), proxies=proxies(srv), timeout=30,
                   headers={"Authorization": "Bearer tok", "Accept-Encoding": "gzip", "X-Rep": "1"})
    assert r.status_code == 200 and len(r.content) == size
    assert len(fetch.calls) == 1
    url, headers, kw = fetch.calls[0]
    assert url == http_origin.url(f"/bytes/{size}") and kw == {}
    names = [k.lower() for k, _ in headers]
    assert ("Authorization", "Bearer tok") in headers
    assert "host" not in names and "accept-encoding" not in names
    # non-GET and direct rules go to the origin without P2P
    assert client.head(http_origin.url("/bytes/10"), proxies=proxies(srv), timeout=10).status_code == 200
    assert client.get(http_origin.url("/direct/x"), proxies=proxies(srv), timeout=10).json()["path"] == "/direct/x"
    assert len(fetch.calls) == 1


def test_p2p_failure_before_the_first_byte_falls_back_to_the_origin(start_proxy, http_origin, client):
    fetch = RecordingFetch(fail_first=True)
    srv = start_proxy(proxies=[{"regx": "/bytes/"}], p2p_fetch=fetch)
    r = client.get(http_origin.url("/bytes/1000"), proxies=proxies(srv), timeout=10)
    assert r.status_code == 200 and len(r.content) == 1000 and len(fetch.calls) == 1
    assert [s["path"] for s in http_origin.seen] == ["/bytes/1000"]


def test_p2p_failure_mid_stream_cuts_the_response(start_proxy, http_origin, client):
    fetch = RecordingFetch(fail_after=1 << 20)
    srv = start_proxy(proxies=[{"regx": "/bytes/"}], p2p_fetch=fetch)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        client.get(http_origin.url(f"/bytes/{4 << 20}"), proxies=proxies(srv), timeout=30).content
    # the server is still serving
    assert client.get(srv.url + "/v2/", timeout=10).text == "mirror:/v2/"


def test_unreachable_upstream_is_a_clear_502(start_proxy, client):
    srv = start_proxy()
    r = client.get(f"http://127.0.0.1:{free_port()}/x", proxies=proxies(srv), timeout=20)
    assert r.status_code == 502
    body = r.json()
    assert body["code"] == "UPSTREAM_ERROR" and "cannot connect" in body["message"]
