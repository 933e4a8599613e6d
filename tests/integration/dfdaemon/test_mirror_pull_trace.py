"""Per-pull traces: one log line per blob pull and GET /debug/pulls on real dfdaemons, a real supernode and
a real registry, with the local-hit counter."""
from __future__ import annotations

import requests

from .mirror_stack import pull_blob, sha256

import pytest

pytestmark = pytest.mark.slow


def _pulls(host, **params):
    r = requests.get(f"{host.url}/debug/pulls", params=params, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_each_pull_says_where_its_bytes_came_from(registry_plain, oci_image_factory, supernode,
                                                  dfdaemon_factory):
    img = oci_image_factory(layers=1, layer_size=9 << 20, seed=41)
    registry_plain.push(img, "trace/app")
    layer = img.layers[0]
    first, second = (dfdaemon_factory(nodes=[supernode.node], remote=registry_plain.url) for _ in range(2))

    assert sha256(pull_blob(first.url, "trace/app", layer.digest)) == layer.digest     # cold: through P2P
    assert sha256(pull_blob(first.url, "trace/app", layer.digest)) == layer.digest     # warm: local cache
    assert sha256(pull_blob(second.url, "trace/app", layer.digest)) == layer.digest    # another host

    got = _pulls(first)
    assert got["local_hits"] == 1 and got["local_misses"] == 1
    warm, cold = got["pulls"]                      # newest first
    assert (warm["source"], warm["status"], warm["bytes_sent"]) == ("cache", "done", layer.size)
    assert warm["bytes_from"] == {"cache": layer.size} and warm["slow"] == []
    assert (cold["source"], cold["status"], cold["bytes_sent"]) == ("p2p", "done", layer.size)
    assert cold["registry"] and cold["repository"] == "trace/app" and cold["digest"] == layer.digest
    # the first host had no peer to take pieces from: every byte came from the supernode, and it says so
    assert cold["bytes_from"] == {"supernode": layer.size}
    assert any(reason.startswith("no peers") for reason in cold["slow"])

    other = _pulls(second)["pulls"][0]
    assert other["source"] == "p2p" and sum(other["bytes_from"].values()) == layer.size
    assert set(other["bytes_from"]) <= {"peers", "supernode"}

    log = first.log_tail(200000)
    assert log.count("pull done registry=") == 2 and f"digest={layer.digest}" in log
    assert first.metric("dragonfly_dfdaemon_local_requests_total", result="hit") == 1


def test_a_failed_pull_is_traced_with_its_error(registry_plain, dfdaemon_factory):
    host = dfdaemon_factory(remote=registry_plain.url, extra={"registry_mirror": {"remote": registry_plain.url,
                                                                                   "direct": True}})
    missing = "sha256:" + "1" * 64
    r = requests.get(f"{host.url}/v2/trace/none/blobs/{missing}", timeout=30)
    assert r.status_code == 404
    entry = _pulls(host)["pulls"][0]
    assert entry["status"] == "failed" and entry["digest"] == missing and "BLOB_UNKNOWN" in entry["error"]


@pytest.mark.parametrize("limit", ["0", "201", "x"])
def test_bad_limit_is_a_clear_400(dfdaemon_factory, limit):
    host = dfdaemon_factory()
    r = requests.get(f"{host.url}/debug/pulls", params={"limit": limit}, timeout=10)
    assert r.status_code == 400 and "limit must be" in r.text
