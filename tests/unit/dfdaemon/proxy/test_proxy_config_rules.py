"""The proxies / hijack_https schema and the rule matching and rewrites."""
from __future__ import annotations

import pytest

from dfcommon.errors import ConfigError
from dfdaemon.proxy.config import parse_hijack, parse_proxies
from dfdaemon.proxy.rules import HijackRules, ProxyRules, authority, rewrite


def rules(*items):
    return ProxyRules(parse_proxies(list(items)))


def test_parse_proxies_defaults_and_values():
    parsed = parse_proxies([{"regx": "blobs/sha256.*"},
                            {"regx": "^http://a", "use_https": True, "direct": True, "redirect": "b.example:5000"}])
    assert [(r.regx, r.use_https, r.direct, r.redirect) for r in parsed] == [
        ("blobs/sha256.*", False, False, ""), ("^http://a", True, True, "b.example:5000")]
    assert parse_proxies(None) == [] and parse_proxies([]) == []


@pytest.mark.parametrize("value, words", [
    ([{"regx": "a", "usehttps": True}], "proxies[0]: unknown key 'usehttps'"),
    ([{"regx": "("}], "proxies[0].regx: bad regular expression"),
    ([{"direct": True}], "proxies[0].regx: a non-empty regular expression is required"),
    ([{"regx": "a"}, {"regx": "b", "direct": "yes"}], "proxies[1].direct: expected true or false"),
    ([{"regx": "a", "redirect": "http://host/path"}], "proxies[0].redirect: expected host or host:port"),
    ({"regx": "a"}, "proxies: expected a list"),
    (["a"], "proxies[0]: expected a mapping"),
])
def test_parse_proxies_rejects(value, words):
    with pytest.raises(ConfigError) as e:
        parse_proxies(value)
    assert words in str(e.value)


def test_parse_hijack(tmp_path):
    crt, key, ca = tmp_path / "ca.crt", tmp_path / "ca.key", tmp_path / "roots.pem"
    for f in (crt, key, ca):
        f.write_text("x")
    cfg = parse_hijack({"cert": str(crt), "key": str(key),
                        "hosts": [{"regx": "index.docker.io"},
                                  {"regx": "^h:443$", "insecure": True, "certs": [str(ca)]}]})
    assert cfg.enabled and cfg.cert == str(crt)
    assert [(h.regx, h.insecure, h.certs) for h in cfg.hosts] == [
        ("index.docker.io", False, ()), ("^h:443$", True, (str(ca),))]
    assert not parse_hijack(None).enabled and not parse_hijack({}).enabled
    assert not parse_hijack({"cert": str(crt), "key": str(key)}).enabled


@pytest.mark.parametrize("build, words", [
    (lambda d: {"cert": d["crt"], "key": d["key"], "hosts": [{"regx": "["}]}, "hijack_https.hosts[0].regx"),
    (lambda d: {"cert": d["crt"], "key": d["key"], "hosts": [{"regx": "a", "certs": ["/nope.pem"]}]},
     "hijack_https.hosts[0].certs[0]: file '/nope.pem' does not exist"),
    (lambda d: {"hosts": [{"regx": "a"}]}, "cert and key are required"),
    (lambda d: {"cert": d["crt"]}, "cert and key go together"),
    (lambda d: {"cert": d["crt"], "key": "/missing.key"}, "hijack_https.key: file '/missing.key' does not exist"),
    (lambda d: {"cert": d["crt"], "key": d["key"], "host": []}, "unknown key 'host'"),
    (lambda d: {"cert": d["crt"], "key": d["key"], "hosts": [{"regx": "a", "verify": False}]}, "unknown key 'verify'"),
])
def test_parse_hijack_rejects(tmp_path, build, words):
    (tmp_path / "c").write_text("x")
    (tmp_path / "k").write_text("x")
    with pytest.raises(ConfigError) as e:
        parse_hijack(build({"crt": str(tmp_path / "c"), "key": str(tmp_path / "k")}))
    assert words in str(e.value)


def test_first_matching_rule_wins():
    r = rules({"regx": "blobs", "direct": True}, {"regx": "blobs/sha256"})
    route = r.route("GET", "http://h/v2/a/blobs/sha256:1")
    assert route.p2p is False and route.rule.regx == "blobs"


def test_p2p_only_for_get_and_not_direct():
    r = rules({"regx": "blobs/sha256.*"})
    assert r.route("GET", "http://h/v2/a/blobs/sha256:1").p2p
    assert r.route("get", "http://h/v2/a/blobs/sha256:1").p2p
    for method in ("HEAD", "POST", "PUT"):
        assert not r.route(method, "http://h/v2/a/blobs/sha256:1").p2p
    assert not r.route("GET", "http://h/v2/a/manifests/latest").p2p


def test_no_match_passes_through_unchanged():
    route = rules({"regx": "^https://only"}).route("GET", "http://user:pw@other/x?y=1")
    assert route.url == "http://user:pw@other/x?y=1" and route.rule is None and not route.p2p


def test_pattern_is_searched_in_the_full_url():
    r = rules({"regx": r"token=\w+"})
    assert r.route("GET", "http://h/x?token=abc").rule is not None


def test_rewrites_scheme_and_host():
    r = rules({"regx": "a.example", "use_https": True, "redirect": "mirror.local:5000", "direct": True})
    route = r.route("HEAD", "http://a.example/v2/x?n=1")
    assert route.url == "https://mirror.local:5000/v2/x?n=1" and not route.p2p
    assert rewrite("http://u:p@a:80/p", parse_proxies([{"regx": "a", "use_https": True}])[0]) == "https://a:80/p"


def test_authority_fills_default_ports():
    assert authority("https://h/x") == "h:443"
    assert authority("http://h/x") == "h:80"
    assert authority("https://h:5000/x") == "h:5000"
    assert authority("https://[::1]/x") == "[::1]:443"


def test_hijack_rules_match_host_port(tmp_path):
    for n in ("c", "k"):
        (tmp_path / n).write_text("x")
    h = HijackRules(parse_hijack({"cert": str(tmp_path / "c"), "key": str(tmp_path / "k"),
                                  "hosts": [{"regx": r"^registry\.example\.com:443$"}, {"regx": "example"}]}))
    assert h.intercept("registry.example.com:443").regx == r"^registry\.example\.com:443$"
    assert h.intercept("registry.example.com:5000").regx == "example"
    assert h.intercept("other.org:443") is None
    assert HijackRules().intercept("registry.example.com:443") is None


def test_build_proxy_from_a_dfdaemon_config(tmp_path):
    from types import SimpleNamespace

    from dfdaemon.proxy import build_proxy
    from dfdaemon.proxy.gen_ca import main as gen_ca
    assert gen_ca(["--cert", str(tmp_path / "ca.crt"), "--key", str(tmp_path / "ca.key")]) == 0
    config = SimpleNamespace(proxies=[{"regx": "blobs/sha256.*"}], task_filters=["Expires"],
                             hijack_https={"cert": str(tmp_path / "ca.crt"), "key": str(tmp_path / "ca.key"),
                                           "hosts": [{"regx": "^harbor:443$"}]})
    proxy = build_proxy(config, SimpleNamespace(downloader=None))
    assert proxy.app.p2p_fetch is None and proxy.certs.is_ca
    assert proxy.intercepts("harbor:443") is not None and proxy.intercepts("other:443") is None
    assert proxy.rules.route("GET", "http://h/v2/a/blobs/sha256:1").p2p
    assert proxy.handler_class().proxy is proxy
    config.proxies = [{"regx": "(("}]
    with pytest.raises(ConfigError, match=r"proxies\[0\].regx"):
        build_proxy(config)
