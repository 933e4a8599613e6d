"""Upstream selection by each rule, and manifest passthrough exactly as the origin answered."""
from __future__ import annotations

import http.client

import pytest
import requests

from .mirror_stack import pull_blob, sha256

pytestmark = pytest.mark.slow

SKOPEO_ACCEPT = ["application/vnd.oci.image.manifest.v1+json",
                 "application/vnd.docker.distribution.manifest.v2+json",
                 "application/vnd.docker.distribution.manifest.v1+prettyjws",
                 "application/vnd.docker.distribution.manifest.v1+json",
                 "application/vnd.docker.distribution.manifest.list.v2+json",
                 "application/vnd.oci.image.index.v1+json"]


@pytest.fixture
def two_registries(registry_plain, registry_factory, oci_image_factory, counting_front):
    a_img = oci_image_factory(layers=1, layer_size=64 << 10, seed=31)
    b_img = oci_image_factory(layers=1, layer_size=64 << 10, seed=32)
    reg_b = registry_factory("plain")
    registry_plain.push(a_img, "sel/app")
    reg_b.push(b_img, "sel/app")
    return (counting_front(registry_plain), a_img), (counting_front(reg_b), b_img)


def manifest_paths(front) -> list[str]:
    return [q.path for q in front.requests if "/manifests/" in q.path]


def test_upstream_selected_by_each_rule(two_registries, supernode, dfdaemon_factory):
    (front_a, img_a), (front_b, img_b) = two_registries
    host = dfdaemon_factory(nodes=[supernode.node], remote=front_a.url,
                            registries=[{"name": "b.example", "url": front_b.url}])
    accept = {"Accept": img_a.manifest.media_type}

    def get(path, **kw):
        return requests.get(host.url + path, headers={**accept, **kw.pop("headers", {})}, timeout=10, **kw)

    cases = [
        ("default", get("/v2/sel/app/manifests/latest"), front_a, img_a),
        ("ns", get("/v2/sel/app/manifests/latest", params={"ns": "b.example"}), front_b, img_b),
        ("ns-host", get("/v2/sel/app/manifests/latest", params={"ns": front_b.host}), front_b, img_b),
        ("header", get("/v2/sel/app/manifests/latest", headers={"X-Dragonfly-Registry": front_b.url}), front_b, img_b),
        ("path", get("/v2/b.example/sel/app/manifests/latest"), front_b, img_b),
        ("path-host", get(f"/v2/{front_b.host}/sel/app/manifests/latest"), front_b, img_b),
    ]
    for rule, resp, front, img in cases:
        assert resp.status_code == 200, (rule, resp.text)
        assert resp.content == img.manifest_bytes, rule
    # ns wins over the header, the header over the path prefix
    r = get("/v2/sel/app/manifests/latest", params={"ns": front_a.host}, headers={"X-Dragonfly-Registry": front_b.url})
    assert r.content == img_a.manifest_bytes
    assert all(p == "/v2/sel/app/manifests/latest" for p in manifest_paths(front_b))
    # a blob chosen by ns comes from that registry, through P2P
    layer = img_b.layers[0]
    r = requests.get(f"{host.url}/v2/sel/app/blobs/{layer.digest}", params={"ns": "b.example"},
                     headers={"Range": "bytes=10-19"}, timeout=30)          # a Range on a miss
    assert r.status_code == 206 and r.headers["Content-Range"] == f"bytes 10-19/{layer.size}"
    with open(img_b.blob_path(layer.digest), "rb") as f:
        assert r.content == f.read()[10:20]
    assert sha256(pull_blob(host.url, "sel/app", layer.digest, params={"ns": "b.example"})) == layer.digest
    assert not any(layer.digest in q.path for q in front_a.requests)


def test_manifest_passthrough_keeps_repeated_accept_and_bytes(two_registries, supernode, dfdaemon_factory):
    (front_a, img_a), _ = two_registries
    host = dfdaemon_factory(nodes=[supernode.node], remote=front_a.url)
    conn = http.client.HTTPConnection("127.0.0.1", host.port, timeout=10)
    conn.putrequest("GET", "/v2/sel/app/manifests/latest?ns=" + front_a.host, skip_accept_encoding=True)
    for value in SKOPEO_ACCEPT:
        conn.putheader("Accept", value)
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read()
    assert resp.status == 200 and body == img_a.manifest_bytes
    assert resp.getheader("Content-Type") == img_a.manifest.media_type
    assert resp.getheader("Docker-Content-Digest") == img_a.manifest.digest
    seen = [q for q in front_a.requests if q.path.startswith("/v2/sel/app/manifests/latest")][-1]
    assert [v for k, v in seen.headers if k.lower() == "accept"] == SKOPEO_ACCEPT
    assert [v for k, v in seen.headers if k.lower() == "host"] == [front_a.host]
    assert "ns=" not in seen.path
    conn.close()
    # HEAD as containerd resolves tags: digest and length, no body
    r = requests.head(f"{host.url}/v2/sel/app/manifests/latest", params={"ns": front_a.host},
                      headers={"Accept": ", ".join(SKOPEO_ACCEPT) + ", */*"}, timeout=10)
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == img_a.manifest.digest
    assert int(r.headers["Content-Length"]) == len(img_a.manifest_bytes)
    # by digest, byte-identical
    r = requests.get(f"{host.url}/v2/sel/app/manifests/{img_a.manifest.digest}",
                     headers={"Accept": img_a.manifest.media_type}, timeout=10)
    assert r.content == img_a.manifest_bytes
    # tags pass through with their query, without ns
    r = requests.get(f"{host.url}/v2/sel/app/tags/list", params={"n": "5", "ns": front_a.host}, timeout=10)
    assert r.status_code == 200 and r.json()["tags"] == ["latest"]
    tag_req = [q for q in front_a.requests if "/tags/list" in q.path][-1]
    assert "n=5" in tag_req.path and "ns=" not in tag_req.path
    r = requests.get(f"{host.url}/v2/", timeout=10)
    assert r.status_code == 200 and r.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
