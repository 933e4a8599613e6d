"""RegistryClient against a scripted server, for replies the real registry cannot produce."""
import json

import pytest

from dfcommon.errors import DfError
from registry_plugin.oci import RegistryClient
from tests.fixtures.stub_registry import StubRegistry

D = "sha256:" + "ab" * 32


@pytest.fixture
def stub():
    s = StubRegistry().start()
    yield s
    s.stop()


def _json(status, doc, headers=None):
    return status, dict({"Content-Type": "application/json"}, **(headers or {})), json.dumps(doc).encode()


def test_tags_follow_link_pages(stub):
    tags = [f"t{i:02d}" for i in range(7)]

    def page(req):
        n = int(req.query.get("n", ["100"])[0])
        last = req.query.get("last", [None])[0]
        rest = [t for t in tags if last is None or t > last]
        chunk = rest[:n]
        headers = {}
        if len(rest) > n:
            headers["Link"] = f'</v2/a/b/tags/list?n={n}&last={chunk[-1]}>; rel="next"'
        return _json(200, {"name": "a/b", "tags": chunk}, headers)

    stub.route("GET", "/v2/a/b/tags/list", page)
    c = RegistryClient(stub.url)
    assert c.list_tags("a/b", n=3) == tags
    assert len(stub.requests) == 3
    assert c.list_tags("a/b", n=3, last="t04") == ["t05", "t06"]


def test_pagination_link_to_another_host_is_refused(stub):
    stub.route("GET", "/v2/a/tags/list", lambda r: _json(200, {"tags": ["x"]},
                                                         {"Link": '<http://evil.example/v2/a/tags/list>; rel="next"'}))
    with pytest.raises(DfError) as e:
        RegistryClient(stub.url).list_tags("a")
    assert e.value.code == "UPSTREAM_ERROR"


@pytest.mark.parametrize("status,body,code,http_status", [
    (429, {"errors": [{"code": "TOOMANYREQUESTS", "message": "slow down"}]}, "TOOMANYREQUESTS", 429),
    (429, {}, "TOOMANYREQUESTS", 429),
    (500, {}, "UPSTREAM_ERROR", 502),
    (503, {"errors": [{"code": "UNAVAILABLE"}]}, "UPSTREAM_ERROR", 502),
    (403, {"errors": [{"code": "DENIED", "message": "no"}]}, "DENIED", 403),
    (404, {"errors": [{"code": "NAME_UNKNOWN"}]}, "NAME_UNKNOWN", 404),
    (404, {}, "MANIFEST_UNKNOWN", 404),
    (401, {"errors": [{"code": "UNAUTHORIZED"}]}, "UNAUTHORIZED", 401),
])
def test_error_envelopes(stub, status, body, code, http_status):
    stub.route("GET", "/v2/a/manifests/v1", lambda r: _json(status, body))
    c = RegistryClient(stub.url, session=__import__("requests").Session())
    with pytest.raises(DfError) as e:
        c.get_manifest("a", "v1")
    assert e.value.code == code and e.value.http_status == http_status
    assert e.value.detail["status"] == status


def test_manifest_digest_mismatch_is_refused(stub):
    stub.route("GET", f"/v2/a/manifests/{D}", lambda r: _json(200, {"schemaVersion": 2}))
    with pytest.raises(DfError) as e:
        RegistryClient(stub.url).get_manifest("a", D)
    assert e.value.code == "DIGEST_INVALID"


def test_redirect_drops_authorization_for_another_host(stub):
    """Blob redirected from 127.0.0.1 to localhost: the Basic header must not follow."""
    storage = StubRegistry(bind="127.0.0.1").start()
    try:
        stub.route("GET", "/v2/", lambda r: (200, {}, b"") if r.header("Authorization") else
                   (401, {"WWW-Authenticate": 'Basic realm="r"'}, b""))
        stub.route("GET", f"/v2/a/blobs/{D}", lambda r: (307, {"Location": f"http://localhost:{storage.port}/obj?sig=1"}, b""))
        stub.route("GET", "/v2/a/blobs/same", lambda r: (302, {"Location": "/v2/a/blobs/final"}, b""))
        stub.route("GET", "/v2/a/blobs/final", lambda r: (200, {}, b"same-host"))
        storage.route("GET", "/obj", lambda r: (400, {}, b"two auth") if r.header("Authorization") else (200, {}, b"bytes!"))
        c = RegistryClient(stub.url, credentials=("u", "p"))
        assert c.ping()
        with c.get_blob("a", D) as b:
            assert b.read() == b"bytes!"
        assert storage.requests[0].header("Authorization") is None
        assert stub.requests[-1].header("Authorization", ) is not None
    finally:
        storage.stop()


def test_too_many_redirects(stub):
    stub.route("GET", f"/v2/a/blobs/{D}", lambda r: (307, {"Location": f"/v2/a/blobs/{D}"}, b""))
    with pytest.raises(DfError) as e:
        RegistryClient(stub.url).get_blob("a", D)
    assert e.value.code == "UPSTREAM_ERROR"


def test_unreachable_registry():
    from tests.helpers import free_port
    c = RegistryClient(f"http://127.0.0.1:{free_port()}", timeout=(1, 1),
                       session=__import__("requests").Session())
    with pytest.raises(DfError) as e:
        c.ping()
    assert e.value.code == "UPSTREAM_ERROR"


def test_invalid_inputs():
    with pytest.raises(DfError):
        RegistryClient("ftp://x")
    c = RegistryClient("http://127.0.0.1:1")
    with pytest.raises(DfError) as e:
        c.get_blob("a", "sha256:zz")
    assert e.value.code == "DIGEST_INVALID"
