"""Malformed names, references, digests, Range headers, ns values and paths: 4xx in the OCI envelope,
decided before any upstream is contacted (the upstream here is a closed port)."""
from __future__ import annotations

import pytest

from dfdaemon.app import create_app
from dfdaemon.config import load_config
from tests.helpers import free_port

DIGEST = "sha256:" + "a" * 64


@pytest.fixture
def client(tmp_path):
    conf = load_config(None, {"work_home": str(tmp_path), "registry_mirror": {"remote": f"http://127.0.0.1:{free_port()}",
                                                                               "direct": True},
                              "access": "none", "upstream_timeout": "2s", "connect_timeout": "1s"})
    app = create_app(conf)
    yield app.test_client()
    app.extensions["services"].close()


def oci_error(resp, status: int, code: str) -> None:
    assert resp.status_code == status, resp.data
    body = resp.get_json()
    assert body["errors"][0]["code"] == code
    assert resp.headers["Docker-Distribution-API-Version"] == "registry/2.0"


@pytest.mark.parametrize("path", [
    "/v2/UPPER/app/manifests/latest",
    "/v2/a/../b/manifests/latest",
    "/v2/../../etc/passwd/manifests/latest",
    "/v2/app//x/manifests/latest",
    "/v2/-app/manifests/latest",
    "/v2/app/x/y",
    "/v2/app/blobs",
    "/v2/a\\b/manifests/latest",
])
def test_bad_names_and_paths(client, path):
    oci_error(client.get(path), 400, "NAME_INVALID")


@pytest.mark.parametrize("ref", ["sha256:zz", "sha256:" + "a" * 63, "md5:abc", "SHA256:" + "a" * 64])
def test_bad_blob_digests(client, ref):
    oci_error(client.get(f"/v2/app/blobs/{ref}"), 400, "DIGEST_INVALID")
    head = client.head(f"/v2/app/blobs/{ref}")
    assert head.status_code == 400 and head.data == b"" and int(head.headers["Content-Length"]) > 0


@pytest.mark.parametrize("ref", ["-bad", "a" * 129, "tag!", ".hidden"])
def test_bad_manifest_references(client, ref):
    oci_error(client.get(f"/v2/app/manifests/{ref}"), 400, "TAG_INVALID")


@pytest.mark.parametrize("value", ["bytes=5-1", "items=0-1", "bytes=0-1,5-6", "bytes=abc", "bytes=", "0-1"])
def test_bad_range_headers(client, value):
    oci_error(client.get(f"/v2/app/blobs/{DIGEST}", headers={"Range": value}), 400, "INVALID_PARAM")


@pytest.mark.parametrize("ns", ["", "bad/host", "user@host", "host:99999", "a b", "../x", "http://host"])
def test_bad_ns_values(client, ns):
    oci_error(client.get("/v2/app/manifests/latest", query_string={"ns": ns}), 400, "NAME_INVALID")


def test_ns_given_twice(client):
    oci_error(client.get("/v2/app/manifests/latest?ns=a.io&ns=b.io"), 400, "NAME_INVALID")


@pytest.mark.parametrize("value", ["ftp://host", "http://host/path", "http://user@host", "bad host"])
def test_bad_registry_header(client, value):
    oci_error(client.get("/v2/app/manifests/latest", headers={"X-Dragonfly-Registry": value}), 400, "NAME_INVALID")


def test_pushes_are_refused(client):
    oci_error(client.post("/v2/app/blobs/uploads/"), 405, "UNSUPPORTED")
    oci_error(client.put("/v2/app/manifests/latest", data=b"{}"), 405, "UNSUPPORTED")
    oci_error(client.delete(f"/v2/app/blobs/{DIGEST}"), 405, "UNSUPPORTED")


def test_unreachable_upstream_is_an_oci_error(client):
    oci_error(client.get("/v2/app/manifests/latest"), 502, "UPSTREAM_ERROR")
    oci_error(client.get(f"/v2/app/blobs/{DIGEST}"), 502, "UPSTREAM_ERROR")


def test_health_endpoints(client):
    assert client.get("/_ping").data == b"OK"
    assert client.get("/healthz").get_json()["status"] == "ok"
    text = client.get("/metrics").data.decode()
    assert "dragonfly_dfdaemon_requests_total" in text
    missing = client.get("/nope")
    assert missing.status_code == 404 and missing.get_json()["code"] == "NOT_FOUND"
