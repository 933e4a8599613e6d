"""Upstream selection rules and their validation."""
from __future__ import annotations

import pytest

from dfcommon.errors import DfError
from dfdaemon.config import load_config
from dfdaemon.mirror.upstreams import Upstream, UpstreamSelector, build_selector


@pytest.fixture
def selector():
    default = Upstream("docker.io", "https://registry-1.docker.io")
    harbor = Upstream("harbor.example.com", "https://harbor.example.com")
    local = Upstream("127.0.0.1:5000", "http://127.0.0.1:5000")
    return UpstreamSelector(default, [harbor, local])


def test_default_rule_and_hub_library_prefix(selector):
    t = selector.select("alpine")
    assert (t.upstream.name, t.repository, t.rule) == ("docker.io", "library/alpine", "default")
    t = selector.select("library/nginx")
    assert t.repository == "library/nginx"


def test_ns_rule(selector):
    t = selector.select("library/test", ns="127.0.0.1:5000")
    assert (t.upstream.url, t.repository, t.rule) == ("http://127.0.0.1:5000", "library/test", "ns")
    t = selector.select("library/test", ns="docker.io")
    assert t.upstream.url == "https://registry-1.docker.io"
    t = selector.select("proj/app", ns="other.example:8443")           # dynamic upstream over https
    assert t.upstream.url == "https://other.example:8443" and not t.upstream.configured


def test_header_rule(selector):
    t = selector.select("proj/app", header="https://harbor.example.com")
    assert (t.upstream.name, t.rule) == ("harbor.example.com", "header")
    t = selector.select("proj/app", header="http://10.0.0.9:5000")
    assert t.upstream.url == "http://10.0.0.9:5000"
    t = selector.select("proj/app", header="harbor.example.com")
    assert t.upstream.name == "harbor.example.com"


def test_path_prefix_rule(selector):
    t = selector.select("harbor.example.com/proj/app")
    assert (t.upstream.name, t.repository, t.rule) == ("harbor.example.com", "proj/app", "path")
    t = selector.select("127.0.0.1:5000/library/test")
    assert (t.upstream.url, t.repository) == ("http://127.0.0.1:5000", "library/test")
    t = selector.select("docker.io/nginx")
    assert (t.upstream.name, t.repository) == ("docker.io", "library/nginx")
    t = selector.select("team/app")                                    # not host-like: default
    assert t.rule == "default" and t.repository == "team/app"


def test_rule_order(selector):
    t = selector.select("harbor.example.com/proj/app", ns="127.0.0.1:5000",
                        header="https://harbor.example.com")
    assert t.rule == "ns" and t.upstream.name == "127.0.0.1:5000"
    assert t.repository == "harbor.example.com/proj/app"
    t = selector.select("reg.example/x/y", header="https://harbor.example.com")
    assert t.rule == "header" and t.repository == "reg.example/x/y"
    with pytest.raises(DfError):                                       # ':' is no repository character
        selector.select("127.0.0.1:5000/x/y", header="https://harbor.example.com")


@pytest.mark.parametrize("ns", ["", "a/b", "x@y", "h:0", "h:70000", "-bad", "a..b", "host name"])
def test_bad_ns_is_name_invalid(selector, ns):
    with pytest.raises(DfError) as e:
        selector.select("app", ns=ns)
    assert e.value.code == "NAME_INVALID"


def test_static_selector_refuses_unknown_hosts():
    sel = UpstreamSelector(Upstream("docker.io", "https://registry-1.docker.io"), dynamic=False)
    with pytest.raises(DfError) as e:
        sel.select("app", ns="evil.example")
    assert e.value.code == "DENIED"
    with pytest.raises(DfError):
        sel.select("app", header="http://169.254.169.254")


def test_build_selector_from_config(tmp_path):
    conf = load_config(None, {"work_home": str(tmp_path),
                              "registry_mirror": {"remote": "http://127.0.0.1:5000"},
                              "registries": [{"name": "harbor", "url": "https://harbor.example.com",
                                              "aliases": ["harbor.local"], "username": "u", "password": "p"},
                                             {"url": "http://127.0.0.1:5000", "username": "admin",
                                              "password": "pw"}]})
    sel = build_selector(conf)
    assert sel.default.url == "http://127.0.0.1:5000" and sel.default.username == "admin"
    assert sel.select("p/app", ns="harbor.local").upstream.name == "harbor"
    assert sel.select("harbor/p/app").upstream.url == "https://harbor.example.com"
    assert sel.default.credentials.username == "admin"


def test_blob_task_url_has_no_ns():
    up = Upstream("127.0.0.1:5000", "http://127.0.0.1:5000")
    assert up.blob_url("library/test", "sha256:" + "a" * 64) == \
        "http://127.0.0.1:5000/v2/library/test/blobs/sha256:" + "a" * 64
