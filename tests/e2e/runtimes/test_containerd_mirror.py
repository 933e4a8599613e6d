"""containerd (``ctr image pull --hosts-dir``) pulls from two registries at once through one dfdaemon.

One registry has its own ``certs.d/<host:port>/hosts.toml``, the other is served by
``certs.d/_default/hosts.toml``. containerd names the registry with ``?ns=<host:port>`` on every
request to the mirror; the dfdaemon's default upstream points at a dead port, so only ``ns`` can
route the requests. The pulled content (image target digest, config and every layer, byte for byte)
is identical to a pull straight from each registry.
"""
from __future__ import annotations

import hashlib
import os
import re

import pytest
import requests

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DEAD_UPSTREAM = "http://127.0.0.1:1"


def write_hosts(certs_d: str, dir_name: str, mirror_url: str, server: str | None) -> str:
    d = os.path.join(certs_d, dir_name)
    os.makedirs(d, exist_ok=True)
    lines = [f'server = "{server}"', ""] if server else []
    lines += [f'[host."{mirror_url}"]', '  capabilities = ["pull", "resolve"]', ""]
    path = os.path.join(d, "hosts.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def image_targets(ctd, namespace: str) -> dict:
    """``ctr image ls`` as {ref: target digest}."""
    out = ctd.ctr("image", "ls", namespace=namespace).stdout.splitlines()
    targets = {}
    for line in out[1:]:
        cols = line.split()
        digest = next((c for c in cols if c.startswith("sha256:")), None)
        if cols and digest:
            targets[cols[0]] = digest
    return targets


def content_digests(ctd, namespace: str) -> set:
    out = ctd.ctr("content", "ls", "-q", namespace=namespace).stdout
    return set(re.findall(r"sha256:[0-9a-f]{64}", out))


def content_bytes(ctd, namespace: str, digest: str) -> bytes:
    return ctd.ctr("content", "get", digest, namespace=namespace, text=False).stdout


def test_ctr_pulls_two_registries_through_one_dfdaemon(containerd, registry_factory, oci_image_factory,
                                                       supernode, dfdaemon_factory, tmp_path):
    reg_a, reg_b = registry_factory("plain"), registry_factory("plain")
    img_a = oci_image_factory(layers=2, layer_size=1 << 20, tag="v1", seed=31)
    img_b = oci_image_factory(layers=2, layer_size=1 << 20, tag="v1", seed=32)
    reg_a.push(img_a, "team-a/app", tag="v1")
    reg_b.push(img_b, "team-b/tool", tag="v1")
    dfd = dfdaemon_factory(nodes=[supernode.node], remote=DEAD_UPSTREAM,
                           registries=[{"url": reg_a.url}, {"url": reg_b.url}])

    certs_d = str(tmp_path / "certs.d")
    write_hosts(certs_d, reg_a.host, dfd.url, server=reg_a.url)     # one directory per registry
    write_hosts(certs_d, "_default", dfd.url, server=None)          # every other registry
    refs = {f"{reg_a.host}/team-a/app:v1": (reg_a, "team-a/app", img_a),
            f"{reg_b.host}/team-b/tool:v1": (reg_b, "team-b/tool", img_b)}

    for ref in refs:
        containerd.ctr("image", "pull", "--hosts-dir", certs_d, ref, namespace="mirror")
    for ref in refs:
        containerd.ctr("image", "pull", "--plain-http", ref, namespace="direct")

    mirror_targets, direct_targets = image_targets(containerd, "mirror"), image_targets(containerd, "direct")
    mirror_content = content_digests(containerd, "mirror")
    for ref, (reg, repo, img) in refs.items():
        head = requests.head(f"{reg.url}/v2/{repo}/manifests/v1", timeout=10,
                             headers={"Accept": img.manifest.media_type})
        assert mirror_targets[ref] == direct_targets[ref] == head.headers["Docker-Content-Digest"] \
            == img.manifest.digest
        for blob in img.blobs:
            assert blob.digest in mirror_content
            got = content_bytes(containerd, "mirror", blob.digest)
            origin = requests.get(f"{reg.url}/v2/{repo}/blobs/{blob.digest}", timeout=30).content
            assert "sha256:" + hashlib.sha256(got).hexdigest() == blob.digest
            assert got == origin

    with open(dfd.log_path, errors="replace") as f:
        log = f.read()
    for ref, (reg, repo, img) in refs.items():
        # the request line keeps the query containerd sent; the passthrough names the upstream ns chose
        ns = reg.host.replace(":", "%3A")
        assert re.search(rf'"HEAD /v2/{repo}/manifests/v1\?ns={re.escape(ns)} HTTP/1\.1" 200', log), log[-3000:]
        assert f"passthrough upstream={reg.host} method=HEAD path=/v2/{repo}/manifests/v1" in log
    assert dfd.metric("dragonfly_dfdaemon_blob_downloads_total") == sum(len(i.blobs) for _, _, i in refs.values())
    assert dfd.metric("dragonfly_dfdaemon_blob_bytes_total", source="p2p") >= \
        sum(b.size for _, _, i in refs.values() for b in i.layers)
