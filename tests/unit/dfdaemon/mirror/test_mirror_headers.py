"""Request header lines: repeats kept, hop-by-hop and credentials handled apart."""
from __future__ import annotations

from urllib3 import HTTPHeaderDict

from dfdaemon.mirror import headers as hdr


def test_raw_lines_are_used_when_the_server_kept_them():
    env = {hdr.RAW_HEADERS_KEY: [("Accept", "a/b"), ("Accept", "c/d"), ("Host", "mirror")],
           "HTTP_ACCEPT": "a/b,c/d"}
    assert hdr.request_lines(env) == [("Accept", "a/b"), ("Accept", "c/d"), ("Host", "mirror")]


def test_environ_fallback_splits_accept():
    env = {"HTTP_ACCEPT": "a/b, c/d", "HTTP_USER_AGENT": "containerd/1.6, x", "QUERY_STRING": ""}
    lines = hdr.request_lines(env)
    assert ("Accept", "a/b") in lines and ("Accept", "c/d") in lines
    assert ("User-Agent", "containerd/1.6, x") in lines


def test_forwardable_drops_hop_by_hop_host_authorization_and_connection_tokens():
    lines = [("Host", "m"), ("Authorization", "Bearer x"), ("Connection", "close, X-Trace"), ("X-Trace", "1"),
             ("Accept", "a"), ("Accept", "b"), ("X-Dragonfly-Registry", "http://r"), ("Keep-Alive", "5"),
             ("User-Agent", "skopeo")]
    assert hdr.forwardable(lines) == [("Accept", "a"), ("Accept", "b"), ("User-Agent", "skopeo")]


def test_response_lines_keep_repeats():
    h = HTTPHeaderDict()
    h.add("WWW-Authenticate", 'Bearer realm="a"')
    h.add("WWW-Authenticate", 'Basic realm="b"')
    h.add("Transfer-Encoding", "chunked")
    assert hdr.response_lines(h) == [("WWW-Authenticate", 'Bearer realm="a"'), ("WWW-Authenticate", 'Basic realm="b"')]
    assert hdr.get([("accept", "x")], "Accept") == "x" and hdr.as_dict([("A", "1"), ("a", "2")]) == {"A": "1,2"}
