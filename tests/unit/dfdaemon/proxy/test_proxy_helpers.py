"""Small pure pieces of the proxy: CONNECT targets, hop-by-hop headers, absolute-URL detection."""
from __future__ import annotations

import pytest

from dfcommon.errors import DfError
from dfdaemon.proxy.forward import end_to_end
from dfdaemon.proxy.handler import is_absolute
from dfdaemon.proxy.tunnel import parse_target


@pytest.mark.parametrize("target, expected", [
    ("registry.example.com:443", ("registry.example.com", 443)),
    ("127.0.0.1:5000", ("127.0.0.1", 5000)),
    ("[::1]:8443", ("::1", 8443)),
])
def test_parse_target(target, expected):
    assert parse_target(target) == expected


@pytest.mark.parametrize("target", ["example.com", "example.com:", ":443", "a b:443", "h:0", "h:70000",
                                    "http://h:443", ""])
def test_parse_target_rejects(target):
    with pytest.raises(DfError) as e:
        parse_target(target)
    assert e.value.http_status == 400


def test_end_to_end_drops_hop_by_hop_and_connection_named_headers():
    headers = [("Accept", "a"), ("Connection", "keep-alive, X-Private"), ("X-Private", "1"), ("Accept", "b"),
               ("Proxy-Authorization", "Basic x"), ("Transfer-Encoding", "chunked"), ("Authorization", "Bearer t"),
               ("Keep-Alive", "timeout=5"), ("TE", "trailers"), ("Upgrade", "h2c")]
    assert end_to_end(headers) == [("Accept", "a"), ("Accept", "b"), ("Authorization", "Bearer t")]


@pytest.mark.parametrize("path, expected", [
    ("http://h/x", True), ("HTTPS://h/x", True), ("/v2/", False), ("h:443", False), ("", False), (None, False),
])
def test_is_absolute(path, expected):
    assert is_absolute(path) is expected
