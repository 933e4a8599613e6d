"""containerd pulls through the dfdaemon's mirror listener over TLS, trusting a private test CA in hosts.toml
(``ca = ...``); without the CA containerd refuses the mirror (x509) and goes to the registry itself. The pulled image is identical to a direct pull."""
from __future__ import annotations

import os
import subprocess

import pytest
import requests

from dfcommon.tls import make_test_pki

from .test_containerd_mirror import content_digests, image_targets

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def write_tls_hosts(certs_d: str, registry_host: str, registry_url: str, mirror_url: str, ca: str | None) -> None:
    d = os.path.join(certs_d, registry_host)
    os.makedirs(d, exist_ok=True)
    lines = [f'server = "{registry_url}"', "", f'[host."{mirror_url}"]', '  capabilities = ["pull", "resolve"]']
    if ca:
        lines.append(f'  ca = "{ca}"')
    with open(os.path.join(d, "hosts.toml"), "w") as f:
        f.write("\n".join(lines) + "\n")


def tls_metric(port: int, ca: str, name: str, **labels) -> float:
    text = requests.get(f"https://127.0.0.1:{port}/metrics", verify=ca, timeout=10).text
    total = 0.0
    for line in text.splitlines():
        key, _, value = line.rpartition(" ")
        base, _, rest = key.partition("{")
        if not line.startswith("#") and base == name and all(f'{k}="{v}"' in rest for k, v in labels.items()):
            total += float(value)
    return total


def test_ctr_pulls_through_a_tls_mirror_trusting_a_private_ca(containerd, registry_factory, oci_image_factory,
                                                              supernode, dfdaemon_factory, tmp_path):
    pki = make_test_pki(str(tmp_path / "pki"))
    reg = registry_factory("plain")
    img = oci_image_factory(layers=2, layer_size=1 << 20, tag="v1", seed=71)
    reg.push(img, "tls/app", tag="v1")
    dfd = dfdaemon_factory(nodes=[supernode.node], remote=reg.url,
                           extra={"certpem": pki["cert"], "keypem": pki["key"]})
    mirror_url = f"https://127.0.0.1:{dfd.port}"
    ref = f"{reg.host}/tls/app:v1"

    trusted = str(tmp_path / "certs")
    write_tls_hosts(trusted, reg.host, reg.url, mirror_url, ca=pki["ca"])
    containerd.ctr("image", "pull", "--hosts-dir", trusted, ref, namespace="mirror")
    containerd.ctr("image", "pull", "--plain-http", ref, namespace="direct")
    assert image_targets(containerd, "mirror")[ref] == image_targets(containerd, "direct")[ref]
    assert {b.digest for b in img.blobs} <= content_digests(containerd, "mirror")
    # the layers came through the mirror's P2P path, over TLS
    assert tls_metric(dfd.port, pki["ca"], "dragonfly_dfdaemon_blob_bytes_total", source="p2p") == \
        sum(b.size for b in img.blobs)
    # content already held is not fetched again: the untrusted pull only resolves the manifest
    untrusted = str(tmp_path / "certs-untrusted")
    write_tls_hosts(untrusted, reg.host, reg.url, mirror_url, ca=None)
    refused = containerd.ctr("image", "pull", "--hosts-dir", untrusted, ref, namespace="untrusted", check=False)
    # containerd does not trust the mirror, says why, and falls back to the registry itself (the server line)
    assert "certificate signed by unknown authority" in refused.stdout + refused.stderr

    with pytest.raises(subprocess.CalledProcessError):
        subprocess.run(["curl", "-sf", "--max-time", "10", f"http://127.0.0.1:{dfd.port}/v2/"], check=True,
                       capture_output=True)
