"""dockerd pulls through the dfdaemon: ``registry-mirrors`` for a Docker Hub-style name, and the
HTTP(S)_PROXY form for a private registry; both give the same image as a pull straight from it.

dockerd, the registry, the supernode and the dfdaemon run in one loopback-only network namespace
(see conftest), so a mirror miss cannot reach Docker Hub. Each image is pulled straight from the
registry first (127.0.0.1 names are never proxied), its id and layers are recorded, the image is
removed (its layers go with it), then it is pulled again through the dfdaemon.
"""
from __future__ import annotations

import pytest

from .images import build_busybox_image

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _snapshot(image) -> dict:
    attrs = image.attrs
    return {"id": image.id, "layers": attrs["RootFS"]["Layers"],
            "digests": sorted(d.split("@", 1)[1] for d in attrs.get("RepoDigests", []))}


def _pull_direct_then_remove(client, ref: str, tag: str) -> dict:
    direct = _snapshot(client.images.pull(ref, tag=tag))
    client.images.remove(direct["id"], force=True)
    assert direct["id"] not in {i.id for i in client.images.list(all=True)}
    return direct


def _push(stack, tmp_path, name: str):
    image = build_busybox_image(str(tmp_path / name), name=name, tag="v1")
    with stack.ns.entered():
        stack.registry.push(image, f"library/{name}", tag="v1")
    return image


def read_log(dfd) -> str:
    with open(dfd.log_path, errors="replace") as f:
        return f.read()


def _run(client, ref: str) -> str:
    out = client.containers.run(ref, ["/bin/cat", "/etc/image-name"], network_mode="none", remove=True)
    return out.decode().strip()


def test_registry_mirror_pull_is_identical_to_direct_pull(docker_stack, tmp_path):
    stack = docker_stack
    image = _push(stack, tmp_path, "bbmirror")
    client = stack.dockerd.client()
    assert stack.dfdaemon.url in client.info()["RegistryConfig"]["Mirrors"][0]
    direct = _pull_direct_then_remove(client, f"{stack.registry.host}/library/bbmirror", "v1")
    with stack.ns.entered():
        before = stack.dfdaemon.metric("dragonfly_dfdaemon_blob_downloads_total")

    pulled = client.images.pull("library/bbmirror", tag="v1")        # a Docker Hub name: goes to the mirror
    got = _snapshot(pulled)

    assert got["id"] == direct["id"] == image.config.digest
    assert got["layers"] == direct["layers"]
    assert got["digests"] == direct["digests"] == [image.manifest.digest]
    with stack.ns.entered():
        after = stack.dfdaemon.metric("dragonfly_dfdaemon_blob_downloads_total")
        p2p = stack.dfdaemon.metric("dragonfly_dfdaemon_blob_bytes_total", source="p2p")
    assert after - before == len(image.blobs), stack.dfdaemon.log_tail()
    assert p2p >= sum(b.size for b in image.layers)
    log = read_log(stack.dfdaemon)
    assert '"HEAD /v2/library/bbmirror/manifests/v1 HTTP/1.1" 200' in log, log[-3000:]
    assert _run(client, "bbmirror:v1") == "bbmirror"
    client.images.remove(got["id"], force=True)
    client.close()


def test_http_proxy_pull_of_private_registry_is_identical_to_direct_pull(docker_stack, tmp_path):
    stack = docker_stack
    image = _push(stack, tmp_path, "bbproxy")
    client = stack.dockerd.client()
    direct = _pull_direct_then_remove(client, f"{stack.registry.host}/library/bbproxy", "v1")

    ref = f"{stack.proxied_host}/library/bbproxy"
    got = _snapshot(client.images.pull(ref, tag="v1"))               # dockerd sends it to HTTP_PROXY

    assert got["id"] == direct["id"] == image.config.digest
    assert got["layers"] == direct["layers"]
    assert got["digests"] == direct["digests"] == [image.manifest.digest]
    log = read_log(stack.dfdaemon)
    for blob in image.layers:
        line = f"serving through p2p url=http://{stack.proxied_host}/v2/library/bbproxy/blobs/{blob.digest}"
        assert line in log, f"layer {blob.digest} did not come through the dfdaemon proxy:\n{log[-3000:]}"
    assert _run(client, f"{ref}:v1") == "bbproxy"
    client.images.remove(got["id"], force=True)
    client.close()
