"""Hypothesis-generated hostile input against a real supernode process over loopback sockets, per endpoint
family: the legacy peer API, /api/v1 and preheat APIs, the webhook receivers, the piece server, and the
registry manifest parser. Every reply must be below 500 and carry no stack trace, the process must stay up,
and nothing may be written outside its home. ``DF_FUZZ_EXAMPLES`` sets the inputs per family (``make fuzz``
runs 10,000; the normal suite a few hundred) and ``DF_FUZZ_REPORT`` names a JSON file for the counts."""
from __future__ import annotations

import json
import os
import string

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry_plugin.oci.manifest import parse_manifest
from tests.fixtures.supernode_config import PreheatSupernode

N = int(os.environ.get("DF_FUZZ_EXAMPLES", "200"))
SETTINGS = settings(max_examples=N, deadline=None, database=None, derandomize=False,
                    suppress_health_check=list(HealthCheck))
COUNTS: dict[str, dict] = {}

# sources only on "localhost" (refused as not allowed: nothing is fetched, no name is resolved)
HOSTS = st.sampled_from(["localhost", "127.0.0.1", "169.254.169.254", "[::1]", "[fd00:ec2::254]", "10.0.0.1",
                         "0.0.0.0", "localhost:1", "[::ffff:127.0.0.1]", "registry.invalid", ""])
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)
PATHISH = st.text(alphabet=string.ascii_letters + string.digits + "/.%-_~:@!$&'()*+,;=?#[]\\ \t\x00é", max_size=80)
URLS = st.one_of(st.builds(lambda s, h, p: f"{s}://{h}/{p}", st.sampled_from(["http", "https", "ftp", "file", ""]),
                           HOSTS, PATHISH), TEXT)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                    st.floats(allow_nan=True), TEXT)
JSONISH = st.recursive(SCALARS, lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(TEXT, c, max_size=5)),
                       max_leaves=12)


@pytest.fixture(scope="module")
def sn(tmp_path_factory):
    work = tmp_path_factory.mktemp("fuzz")
    s = PreheatSupernode(work / "sn", webhooks={"harbor_auth": ["Bearer fuzz-hook"], "registry_auth": []},
                         base={"fetch": {"allow": ["localhost"], "allow_only": True}, "log_level": "WARNING"}).start()
    s.session = requests.Session()
    before = _files(str(work))
    yield s
    alive = s.proc is not None and s.proc.poll() is None
    log = s.log_tail(10 ** 8)
    s.stop()
    assert alive, "the supernode process died during the fuzz run"
    assert "Traceback" not in log
    assert "fuzz-hook" not in log           # the webhook value it sent thousands of times is never logged
    outside = {p for p in _files(str(work)) - before if not p.startswith(os.path.join(str(work), "sn"))}
    assert not outside, outside
    write_report(COUNTS)


def write_report(counts: dict) -> None:
    """Merge ``counts`` into the ``DF_FUZZ_REPORT`` JSON file (both fuzz modules add their families)."""
    report = os.environ.get("DF_FUZZ_REPORT")
    if not report:
        return
    try:
        with open(report) as f:
            merged = json.load(f)
    except (OSError, ValueError):
        merged = {}
    merged.update(counts)
    with open(report, "w") as f:
        json.dump(merged, f, indent=1, sort_keys=True)


def _files(root: str) -> set[str]:
    return {os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs}


def _check(family: str, resp: requests.Response) -> None:
    c = COUNTS.setdefault(family, {"inputs": 0, "status_5xx": 0, "stack_traces": 0})
    c["inputs"] += 1
    body = resp.text
    if resp.status_code >= 500:
        c["status_5xx"] += 1
    if "Traceback" in body or 'File "' in body:
        c["stack_traces"] += 1
    assert resp.status_code < 500, (family, resp.status_code, body[:300])
    assert "Traceback" not in body


def _send(sn, method, path, family, port=None, **kw):
    url = f"http://127.0.0.1:{port or sn.port}{path}"
    req = requests.Request(method, url, **kw).prepare()
    req.url = url if "?" not in path else req.url
    _check(family, sn.session.send(req, timeout=(5, 30), allow_redirects=False))


@SETTINGS
@given(params=st.dictionaries(st.sampled_from(["rawUrl", "taskUrl", "cid", "ip", "port", "hostName", "path",
                                               "version", "md5", "identifier", "headers", "dfdaemon", "callSystem",
                                               "superNodeIp", "taskId", "srcCid", "dstCid", "range", "result",
                                               "status", "pieceRange", "pieceDigests", "taskFileLength"]),
                              st.one_of(URLS, SCALARS, st.lists(TEXT, max_size=3)), max_size=12),
       path=st.sampled_from(["/peer/registry", "/peer/task", "/peer/piece/suc", "/peer/piece/error",
                             "/peer/service/down", "/task/metrics", "/v1.0/peer/registry", "/api/v1/peer/registry"]),
       as_json=st.booleans(), method=st.sampled_from(["GET", "POST", "PUT"]))
def test_fuzz_legacy_peer_api(sn, params, path, as_json, method):
    if method == "GET":
        _send(sn, "GET", path, "peer_api", params={k: str(v) for k, v in params.items()})
    elif as_json:
        _send(sn, method, path, "peer_api", data=json.dumps(params, default=str),
              headers={"Content-Type": "application/json"})
    else:
        _send(sn, method, path, "peer_api", data={k: str(v) for k, v in params.items()})


@SETTINGS
@given(path=st.one_of(st.sampled_from(["/preheats", "/api/v1/preheats", "/api/v1/policies", "/api/v1/tasks",
                                       "/api/v1/peers", "/api/v1/runs", "/oapi/v1/jobs", "/api/v1/auth/keys",
                                       "/preheats/../../etc/passwd", "/api/v1/tasks/%2e%2e%2f/error"]),
                      st.builds(lambda a, b: f"/{a}/{b}", st.sampled_from(["api/v1", "preheats", "oapi/v1", "peer"]),
                                PATHISH)),
       method=st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD"]),
       body=st.one_of(JSONISH, st.fixed_dictionaries({"type": st.sampled_from(["file", "image", "x", ""]),
                                                      "url": URLS}, optional={"headers": JSONISH, "filter": TEXT})),
       raw=st.booleans())
def test_fuzz_api_v1_and_preheat(sn, path, method, body, raw):
    data = json.dumps(body, default=str).encode() if not raw else json.dumps(body, default=str).encode()[::-1]
    _send(sn, method, path.replace(" ", "%20"), "api_v1_preheat", data=data,
          headers={"Content-Type": "application/json"})


@SETTINGS
@given(receiver=st.sampled_from(["harbor", "registry"]), body=st.one_of(JSONISH, st.binary(max_size=300)),
       ctype=st.sampled_from(["application/json", "application/cloudevents+json", "text/plain",
                              "application/vnd.docker.distribution.events.v1+json", ""]),
       auth=st.sampled_from([None, "Bearer fuzz-hook", "Bearer wrong", "", "Basic Zm9vOmJhcg=="]))
def test_fuzz_webhooks(sn, receiver, body, ctype, auth):
    data = body if isinstance(body, bytes) else json.dumps(body, default=str).encode()
    headers = {"Content-Type": ctype} if ctype else {}
    if auth is not None:
        headers["Authorization"] = auth
    _send(sn, "POST", f"/api/v1/webhooks/{receiver}", "webhooks", data=data, headers=headers)


@SETTINGS
@given(path=st.one_of(st.builds(lambda a, b: f"/download/{a}/{b}", PATHISH, PATHISH),
                      st.sampled_from(["/download/../../etc/passwd", "/download/abc/" + "a" * 64,
                                       "/download/%2e%2e/%2e%2e/etc/passwd", "/", "/download"])),
       rng=st.one_of(st.none(), TEXT, st.builds(lambda a, b: f"bytes={a}-{b}", st.integers(-5, 2**64),
                                                 st.integers(-5, 2**64))))
def test_fuzz_piece_server(sn, path, rng):
    value = "".join(c for c in (rng or "").encode("utf-8").decode("latin-1") if c.isprintable()).strip()
    headers = {"Range": value} if value else {}
    clean = "".join(c if c.isprintable() and c not in " #?" else "%%%02X" % (ord(c) & 0xFF) for c in path)
    _send(sn, "GET", clean, "piece_server", port=sn.download_port, headers=headers)


@SETTINGS
@given(doc=st.one_of(JSONISH, st.binary(max_size=300),
                     st.fixed_dictionaries({"schemaVersion": SCALARS, "mediaType": st.one_of(TEXT, st.sampled_from([
                         "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                         "application/vnd.docker.distribution.manifest.v2+json",
                         "application/vnd.docker.distribution.manifest.list.v2+json"])),
                         "layers": JSONISH, "manifests": JSONISH, "config": JSONISH, "fsLayers": JSONISH})),
       header=st.one_of(st.none(), TEXT))
def test_fuzz_manifest_parser(doc, header):
    """The parser raises only its documented errors (turned into 4xx / a failed preheat), never anything else."""
    from dfcommon.errors import DfError
    data = doc if isinstance(doc, bytes) else json.dumps(doc, default=str).encode()
    c = COUNTS.setdefault("registry_manifests", {"inputs": 0, "unexpected_errors": 0})
    c["inputs"] += 1
    try:
        parse_manifest(data, header)
    except DfError:
        pass
    except Exception:
        c["unexpected_errors"] += 1
        raise
