"""Webhook receivers reachable from other hosts check a secret by default: a real supernode process bound to
every address generates ``<home>/auth/webhook.secret`` (0600), refuses missing and wrong Authorization values
with 401 (nothing queued, a metric), never prints nor logs the secret; and a burst of 1,000 Harbor deliveries
(20% duplicates, some forged) preheats every authentic distinct image once and nothing forged."""
from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import stat
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.fixtures.stub_registry import StubRegistry
from tests.fixtures.supernode_config import PreheatSupernode
from tests.unit.webhooks.webhook_payloads import harbor_default

MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def _refused(url) -> dict:
    text = requests.get(url + "/metrics", timeout=5).text
    return {m.group(1): float(m.group(2)) for m in re.finditer(
        r'^dragonfly_supernode_webhook_refused_total\{reason="(\w+)",receiver="harbor"\} (\S+)$', text, re.M)}


def _queued(sn) -> int:
    with sqlite3.connect(sn.queue_path) as db:
        return db.execute("SELECT COUNT(*) FROM webhook_items").fetchone()[0]


def _post(url, body, auth):
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = auth
    return requests.post(url + "/api/v1/webhooks/harbor", data=json.dumps(body), headers=headers, timeout=(5, 30))


def _registry(n_images: int):
    """A registry with ``n_images`` tags of lib/app, each its own manifest over one shared layer."""
    layer, config = os.urandom(4096), b'{"architecture":"amd64","os":"linux"}'
    dl, dc = ("sha256:" + hashlib.sha256(b).hexdigest() for b in (layer, config))
    reg = StubRegistry()
    reg.route("GET", "/v2/", lambda r: (200, {"Content-Type": "application/json"}, b"{}"))
    reg.route("GET", f"/v2/lib/app/blobs/{dl}", lambda r: (200, {"Content-Type": "application/octet-stream"}, layer))
    reg.route("GET", f"/v2/lib/app/blobs/{dc}", lambda r: (200, {"Content-Type": "application/octet-stream"}, config))
    digests = {}
    for i in range(n_images):
        body = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST,
                           "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                      "size": len(config), "digest": dc},
                           "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                       "size": len(layer), "digest": dl}],
                           "annotations": {"n": str(i)}}).encode()
        d = "sha256:" + hashlib.sha256(body).hexdigest()
        digests[f"t{i}"] = d
        reply = (lambda b, d: lambda r: (200, {"Content-Type": MANIFEST, "Docker-Content-Digest": d}, b))(body, d)
        reg.route("GET", f"/v2/lib/app/manifests/{d}", reply)
        reg.route("GET", f"/v2/lib/app/manifests/t{i}", reply)
    return reg.start(), digests


def test_receivers_off_loopback_require_the_generated_secret(tmp_path):
    sn = PreheatSupernode(tmp_path / "sn", base={"listen_ip": "0.0.0.0"}).start()
    try:
        path = os.path.join(sn.home, "auth", "webhook.secret")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        secret = open(path).read().strip()
        body = harbor_default("lib/app", "sha256:" + "1" * 64, "v1", host="harbor.example")
        assert _post(sn.url, body, None).status_code == 401
        r = _post(sn.url, body, "Bearer not-the-secret")
        assert r.status_code == 401 and secret not in r.text
        assert _post(sn.url, body, secret).status_code == 401          # the scheme is part of the value
        assert _queued(sn) == 0
        assert _refused(sn.url) == {"missing": 1.0, "wrong": 2.0}
        r = _post(sn.url, body, f"Bearer {secret}")
        assert r.status_code == 202 and r.json()["queued"] == 1
        assert _queued(sn) == 1
        log = sn.log_tail(10 ** 7)
        assert "Auth Header:  Bearer <the content of" in log and path in log
        assert secret not in log
    finally:
        sn.stop()
    # a restart reuses the secret and announces nothing; explicit values and auth_mode none change it
    sn.start()
    try:
        assert open(path).read().strip() == secret
        assert sn.log_tail(10 ** 7).count("Auth Header:") == 1
    finally:
        sn.stop()
    own = PreheatSupernode(tmp_path / "own", webhooks={"harbor_auth": ["Bearer mine"]},
                           base={"listen_ip": "0.0.0.0"}).start()
    try:
        body = harbor_default("lib/app", "sha256:" + "2" * 64, "v2", host="harbor.example")
        assert _post(own.url, body, "Bearer mine").status_code == 202
        assert _post(own.url, body, f"Bearer {secret}").status_code == 401
    finally:
        own.stop()
    # webhooks.auth_mode none: no generated secret; with API auth on, a webhook-role token is then needed
    open_ = PreheatSupernode(tmp_path / "open", webhooks={"auth_mode": "none"}, base={"listen_ip": "0.0.0.0"}).start()
    try:
        body = harbor_default("lib/app", "sha256:" + "3" * 64, "v3", host="harbor.example")
        r = _post(open_.url, body, None)
        assert r.status_code == 401 and "role webhook" in r.text
        assert not os.path.exists(os.path.join(open_.home, "auth", "webhook.secret"))
    finally:
        open_.stop()
    open_ = PreheatSupernode(tmp_path / "open2", webhooks={"auth_mode": "none"},
                             base={"listen_ip": "0.0.0.0", "auth": "none"}).start()
    try:
        assert _post(open_.url, body, None).status_code == 202
        assert not os.path.exists(os.path.join(open_.home, "auth", "webhook.secret"))
    finally:
        open_.stop()


def test_burst_of_1000_deliveries_with_duplicates_and_forgeries(tmp_path):
    authentic, duplicates, forged = 720, 200, 80          # 1,000 deliveries: 20% duplicates, 8% forged
    reg, digests = _registry(authentic + forged)
    host = f"127.0.0.1:{reg.port}"
    sn = PreheatSupernode(tmp_path / "sn", preheat={"registries": [{"host": host, "scheme": "http"}]},
                          webhooks={"workers": 4}, base={"listen_ip": "0.0.0.0"}).start()
    try:
        secret = open(os.path.join(sn.home, "auth", "webhook.secret")).read().strip()
        admin = open(os.path.join(sn.home, "auth", "admin.token")).read().strip()
        good = [harbor_default("lib/app", digests[f"t{i}"], f"t{i}", host=host) for i in range(authentic)]
        bad = [harbor_default("lib/app", digests[f"t{i}"], f"t{i}", host=host)
               for i in range(authentic, authentic + forged)]
        deliveries = [(b, f"Bearer {secret}") for b in good] + [(good[i * 3], f"Bearer {secret}")
                                                              for i in range(duplicates)]
        deliveries += [(b, "Bearer forged" if i % 2 else None) for i, b in enumerate(bad)]
        deliveries.sort(key=lambda d: hashlib.md5(json.dumps(d[0]).encode() + str(d[1]).encode()).digest())
        assert len(deliveries) == 1000
        with ThreadPoolExecutor(16) as pool:
            codes = list(pool.map(lambda d: _post(sn.url, *d).status_code, deliveries))
        assert codes.count(202) == authentic + duplicates and codes.count(401) == forged
        assert sum(_refused(sn.url).values()) == forged
        # every authentic distinct image preheated once, nothing forged
        auth = {"Authorization": f"Bearer {admin}"}
        deadline = time.monotonic() + 300
        while True:
            recs = [r for r in requests.get(sn.url + "/api/v1/preheats", headers=auth, timeout=30).json()
                    if r["type"] == "image"]
            if (len(recs) >= authentic and all(r["status"] in ("SUCCESS", "FAILED") for r in recs)) \
                    or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert len(recs) == authentic and {r["status"] for r in recs} == {"SUCCESS"}, \
            [r for r in recs if r["status"] != "SUCCESS"][:3]
        fetched: dict[str, int] = {}
        for req in reg.requests:
            m = re.match(r"^/v2/lib/app/manifests/(.+)$", req.path)
            if m and req.method == "GET":
                fetched[m.group(1)] = fetched.get(m.group(1), 0) + 1
        wanted = {digests[f"t{i}"] for i in range(authentic)} | {f"t{i}" for i in range(authentic)}
        assert set(fetched) <= wanted                      # nothing forged reached the registry
        per_image = {i: fetched.get(digests[f"t{i}"], 0) + fetched.get(f"t{i}", 0) for i in range(authentic)}
        assert set(per_image.values()) == {1}, sorted(set(per_image.values()))
        log = sn.log_tail(10 ** 8)          # the whole scenario's log: no secret it used appears in it
        assert "Traceback" not in log and secret not in log and admin not in log
    finally:
        sn.stop()
        reg.stop()
