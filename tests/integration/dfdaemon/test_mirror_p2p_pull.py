"""Pulls through real dfdaemon processes, a real supernode and a real token-auth registry."""
from __future__ import annotations

import concurrent.futures
import hashlib

import pytest
import requests

from .mirror_stack import get_token, pull_blob, sha256

pytestmark = pytest.mark.slow


def full_gets(front, digest: str) -> int:
    """GETs of the whole blob that reached the registry (the CDN's one-byte length probe excluded)."""
    return sum(1 for q in front.requests
               if q.method == "GET" and q.path.endswith("/blobs/" + digest) and q.status == 200)


def test_three_hosts_pull_private_image_once_from_origin(registry_token, token_server, oci_image_factory,
                                                         counting_front, supernode, dfdaemon_factory):
    token_server.permissions = {"": {}, "testuser": {"*": ["pull", "push"]}}     # nothing is anonymous
    img = oci_image_factory(layers=2, layer_size=2 << 20, seed=11)
    registry_token.push(img, "p2p/private")
    front = counting_front(registry_token)
    hosts = [dfdaemon_factory(nodes=[supernode.node], remote=front.url) for _ in range(3)]
    token = get_token(token_server, "p2p/private", creds=("testuser", "testpass"))
    auth = {"Authorization": f"Bearer {token}"}

    # without a token the mirror relays the origin's challenge
    r = requests.get(f"{hosts[0].url}/v2/p2p/private/manifests/latest", timeout=10)
    assert r.status_code == 401 and "Bearer realm=" in r.headers["WWW-Authenticate"]

    for host in hosts:
        r = requests.get(f"{host.url}/v2/p2p/private/manifests/latest",
                         headers={**auth, "Accept": img.manifest.media_type}, timeout=10)
        assert r.status_code == 200 and r.content == img.manifest_bytes
        assert r.headers["Docker-Content-Digest"] == img.manifest.digest
        for blob in img.blobs:
            data = pull_blob(host.url, "p2p/private", blob.digest, headers=auth)
            assert sha256(data) == blob.digest and len(data) == blob.size

    for blob in img.blobs:
        assert full_gets(front, blob.digest) == 1, blob
    # an anonymous client gets nothing from the hosts' caches
    for host in hosts:
        r = requests.get(f"{host.url}/v2/p2p/private/blobs/{img.layers[0].digest}", timeout=10)
        assert r.status_code == 401
        assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert sum(h.metric("dragonfly_dfdaemon_blob_bytes_total", source="p2p") for h in hosts) >= \
        3 * sum(b.size for b in img.blobs)


def test_concurrent_pulls_of_one_blob_share_one_download(registry_plain, oci_image_factory, counting_front,
                                                         supernode, dfdaemon_factory):
    img = oci_image_factory(layers=1, layer_size=6 << 20, seed=12)
    registry_plain.push(img, "p2p/shared")
    front = counting_front(registry_plain)
    host = dfdaemon_factory(nodes=[supernode.node], remote=front.url, extra={"ratelimit": "8MB"})
    layer = img.layers[0]
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        bodies = list(pool.map(lambda _: pull_blob(host.url, "p2p/shared", layer.digest), range(6)))
    assert all(hashlib.sha256(b).hexdigest() == layer.digest.split(":")[1] for b in bodies)
    assert host.metric("dragonfly_dfdaemon_blob_downloads_total") == 1
    assert full_gets(front, layer.digest) == 1
    # Range on the cached blob
    r = requests.get(f"{host.url}/v2/p2p/shared/blobs/{layer.digest}", headers={"Range": "bytes=100-1099"},
                     timeout=10)
    assert r.status_code == 206 and r.content == bodies[0][100:1100]
    assert r.headers["Content-Range"] == f"bytes 100-1099/{layer.size}"
    r = requests.get(f"{host.url}/v2/p2p/shared/blobs/{layer.digest}", headers={"Range": "bytes=-10"}, timeout=10)
    assert r.status_code == 206 and r.content == bodies[0][-10:]
    r = requests.head(f"{host.url}/v2/p2p/shared/blobs/{layer.digest}", timeout=10)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == layer.size
    assert r.headers["Docker-Content-Digest"] == layer.digest
    r = requests.get(f"{host.url}/v2/p2p/shared/blobs/{layer.digest}", headers={"Range": f"bytes={layer.size}-"},
                     timeout=10)
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{layer.size}"
    assert r.json()["errors"][0]["code"] == "RANGE_NOT_SATISFIABLE"
    assert host.metric("dragonfly_dfdaemon_blob_downloads_total") == 1
