"""Credential-provider and event-sink plug-ins from the example package (tests/plugins), chosen by name in the
config of real processes: a dfdaemon pulls a private image with credentials only the plug-in knows, and a
supernode hands every accepted webhook event to a plug-in sink."""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
import requests
import yaml

from dfcommon import plugins
from tests.fixtures.oci_image import build_oci_image
from tests.helpers import free_port, script
from tests.integration.dfdaemon.mirror_stack import DfdaemonProcess, sha256
from tests.integration.preheat.conftest import SupernodeProcess as PreheatSupernode

pytestmark = pytest.mark.skipif(
    "json-file" not in plugins.installed("dragonfly.credentials")
    or "jsonl-file" not in plugins.installed("dragonfly.event_sinks"),
    reason="the example plug-in package (tests/plugins/dragonfly_example_plugins) is not installed; "
           "`make test` installs it")


def test_a_credential_provider_plugin_opens_a_private_registry(registry_factory, supernode, tmp_path_factory,
                                                              tmp_path):
    user, password = "pluginuser", "Plug-in-Only-S3cret"
    reg = registry_factory(mode="htpasswd", users={user: password})
    img = build_oci_image(str(tmp_path / "img"), tag="v1", layers=1, layer_size=256 << 10, seed=91)
    reg.push(img, "plugin/private")
    home = str(tmp_path_factory.mktemp("dfdaemon"))
    with open(os.path.join(home, "example-credentials.json"), "w") as f:
        json.dump({reg.host: {"username": user, "password": password}}, f)
    host = DfdaemonProcess(home, nodes=[supernode.node], remote=reg.url,
                           extra={"credential_providers": ["json-file"]})
    try:
        r = requests.get(f"{host.url}/v2/plugin/private/manifests/v1",
                         headers={"Accept": img.manifest.media_type}, timeout=30)
        assert r.status_code == 200 and r.content == img.manifest_bytes      # the client sent no credentials
        for b in img.blobs:
            r = requests.get(f"{host.url}/v2/plugin/private/blobs/{b.digest}", timeout=60)
            assert r.status_code == 200 and sha256(r.content) == b.digest
        assert password not in host.log_tail(500000)
    finally:
        host.stop()
    # without the plug-in the same dfdaemon set-up is refused by the registry
    bare = DfdaemonProcess(str(tmp_path_factory.mktemp("bare")), nodes=[supernode.node], remote=reg.url)
    try:
        r = requests.get(f"{bare.url}/v2/plugin/private/manifests/v1", timeout=30)
        assert r.status_code == 401
    finally:
        bare.stop()


def test_an_unknown_credential_provider_stops_the_dfdaemon(tmp_path):
    conf = tmp_path / "d.yml"
    conf.write_text(yaml.safe_dump({"port": free_port(), "work_home": str(tmp_path / "h"),
                                    "credential_providers": ["vault"]}))
    r = subprocess.run([script("dfdaemon"), "--config", str(conf)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "unknown credential_providers 'vault'" in r.stderr and "json-file" in r.stderr
    assert "Traceback" not in r.stderr


def test_an_event_sink_plugin_receives_every_accepted_push(tmp_path):
    from tests.unit.webhooks.webhook_payloads import harbor_default
    hook = "harbor-hook-plugin-s3cr3t"
    sn = PreheatSupernode(tmp_path / "sn", None, {"harbor_auth": [hook], "sinks": ["jsonl-file"]}).start()
    try:
        digest = "sha256:" + "ab" * 32
        body = harbor_default("proj/app", digest, "v1", host="harbor.example")
        for _ in range(2):                       # a redelivery reaches the sink once, as it reaches the preheat
            r = requests.post(f"{sn.url}/api/v1/webhooks/harbor", json=body,
                              headers={"Authorization": hook}, timeout=(3, 5))
            assert r.status_code == 202, r.text
        refused = requests.post(f"{sn.url}/api/v1/webhooks/harbor", json=body, timeout=(3, 5))
        assert refused.status_code == 401        # refused deliveries never reach a sink
        path = os.path.join(sn.home, "events.jsonl")
        deadline = time.monotonic() + 30
        while not (os.path.exists(path) and open(path).read().strip()) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)                          # the redelivery had its chance
        lines = [json.loads(line) for line in open(path).read().splitlines()]
        assert len(lines) == 1
        assert (lines[0]["repository"], lines[0]["tag"], lines[0]["digest"]) == ("proj/app", "v1", digest)
        assert lines[0]["registry"] == "harbor.example"
    finally:
        sn.stop()
