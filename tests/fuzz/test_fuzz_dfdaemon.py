"""Hypothesis-generated hostile input against a real dfdaemon process over loopback: the mirror's ``/v2/`` paths
(names, references, digests, ``ns`` parameters, Authorization and Accept headers) and its embedded upload
server's ``/peer/file`` paths (traversal, encodings, any ``Range``). The default upstream is a stub registry on
loopback that knows no repository; a second configured registry, ``down.test``, points at a closed loopback
port. Unconfigured registry hosts are refused (``registry_mirror.dynamic: false``), so no input makes the
mirror resolve or reach a host off loopback. No reply may carry a stack trace, the process must stay up, the
upload server must never serve a file (none was downloaded), and the only 5xx allowed is the mirror's
``502 UPSTREAM_ERROR`` for a request that named ``down.test``: the registry it chose really is unreachable."""
from __future__ import annotations

import os
import string

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from tests.fixtures.stub_registry import StubRegistry
from tests.helpers import free_port
from tests.integration.dfdaemon.mirror_stack import DfdaemonProcess

from .test_fuzz_supernode import PATHISH, SETTINGS, TEXT, write_report

COUNTS: dict[str, dict] = {}
DOWN = "down.test"          # a configured registry whose address is a closed loopback port
NAME = st.one_of(st.text(alphabet=string.ascii_lowercase + string.digits + "._-/%:@", min_size=0, max_size=40),
                 st.builds(lambda n: f"{DOWN}/{n}", st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8)))
REF = st.one_of(TEXT, st.builds(lambda h: "sha256:" + h, st.text(alphabet="0123456789abcdefABCDEF", max_size=70)))


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    stub = StubRegistry()
    stub.route("GET", "/v2/", lambda r: (200, {"Content-Type": "application/json"}, b"{}"))
    stub.start()
    down = f"http://127.0.0.1:{free_port()}"
    d = DfdaemonProcess(str(tmp_path_factory.mktemp("fuzz-dfdaemon")), remote=stub.url,
                        registries=[{"name": DOWN, "url": down}],
                        extra={"log_level": "WARNING", "registry_mirror": {"remote": stub.url, "dynamic": False}})
    d.session = requests.Session()
    yield d
    alive = d.proc.poll() is None
    log = d.log_tail(10 ** 8) if hasattr(d, "log_tail") else ""
    d.stop()
    stub.stop()
    assert alive, "the dfdaemon process died during the fuzz run"
    assert "Traceback" not in log
    write_report(COUNTS)


def _header(value: str) -> str:
    return "".join(c for c in value.encode("utf-8").decode("latin-1") if c.isprintable()).strip()


def _check(family, resp, names_down: bool = False):
    c = COUNTS.setdefault(family, {"inputs": 0, "status_5xx": 0, "status_500": 0, "stack_traces": 0})
    c["inputs"] += 1
    c["status_5xx"] += resp.status_code >= 500
    if resp.status_code >= 500 and len(c.setdefault("samples_5xx", [])) < 10:     # kept for the report
        c["samples_5xx"].append([resp.status_code, resp.request.method, resp.request.url[:200], resp.text[:200]])
    c["status_500"] += resp.status_code == 500
    trace = "Traceback" in resp.text
    c["stack_traces"] += trace
    assert not trace, (family, resp.status_code, resp.text[:300])
    if resp.status_code >= 500:
        # the one 5xx with a cause outside the mirror: the registry the request named is unreachable
        assert names_down and resp.status_code == 502, (family, resp.status_code, resp.request.url, resp.text[:300])
        assert resp.request.method == "HEAD" or resp.json()["errors"][0]["code"] == "UPSTREAM_ERROR", resp.text[:300]
        c["upstream_unreachable_502"] = c.get("upstream_unreachable_502", 0) + 1


def _quote(path: str) -> str:
    return "".join(c if c.isprintable() and c not in " #?" else "%%%02X" % (ord(c) & 0xFF) for c in path)


@SETTINGS
@given(name=NAME, kind=st.sampled_from(["manifests", "blobs", "tags/list", "blobs/uploads/", "referrers", "x"]),
       ref=REF, method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE"]),
       ns=st.one_of(st.none(), TEXT, st.sampled_from([DOWN, DOWN.upper(), "docker.io", "127.0.0.1:1"])), auth=st.one_of(st.none(), TEXT, st.just("Bearer a.b.c")),
       accept=st.one_of(st.none(), TEXT))
def test_fuzz_mirror_v2(mirror, name, kind, ref, method, ns, auth, accept):
    headers = {}
    for key, value in (("Authorization", auth), ("Accept", accept)):
        if value is not None and _header(value):
            headers[key] = _header(value)
    params = {"ns": ns} if ns is not None else None
    url = f"{mirror.url}{_quote(f'/v2/{name}/{kind}/{ref}')}"
    req = requests.Request(method, url, headers=headers, params=params).prepare()
    names_down = ns.strip().lower() == DOWN if ns is not None else name.startswith(DOWN + "/")
    _check("mirror_v2", mirror.session.send(req, timeout=(5, 30), allow_redirects=False), names_down)


@SETTINGS
@given(path=st.one_of(PATHISH, st.sampled_from(["../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", "..%2f..%2fetc",
                                                 "/etc/passwd", "x/../../../../etc/shadow"])),
       rng=st.one_of(st.none(), TEXT), auth=st.one_of(st.none(), TEXT))
def test_fuzz_upload_server_peer_file(mirror, path, rng, auth):
    headers = {k: _header(v) for k, v in (("Range", rng), ("Authorization", auth)) if v is not None and _header(v)}
    url = f"http://127.0.0.1:{mirror.peer_port}{_quote('/peer/file/' + path)}"
    resp = mirror.session.get(url, headers=headers, timeout=(5, 30), allow_redirects=False)
    _check("upload_server", resp)
    assert resp.status_code not in (200, 206) or b"root:" not in resp.content
