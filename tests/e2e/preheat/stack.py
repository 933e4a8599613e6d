"""A real supernode process with webhooks and preheat configured through its YAML file, that can be
stopped and started again on the same ports and home; plus the waits and inspections the preheat
end-to-end tests and the webhook benchmark share (records through the API, the durable queue's file)."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import time

import requests

from tests.fixtures.supernode_config import PreheatSupernode

FINAL = ("SUCCESS", "FAILED")


class WebhookSupernode(PreheatSupernode):
    """A preheat/webhook supernode plus the waits the preheat end-to-end tests and the benchmark share."""

    # -- API --------------------------------------------------------------------------------------
    def records(self) -> list[dict]:
        r = self.http.get(self.url + "/api/v1/preheats", timeout=(3, 30))
        r.raise_for_status()
        return r.json()

    def image_records(self) -> list[dict]:
        return [r for r in self.records() if r["type"] == "image"]

    def wait_images(self, urls, timeout: float = 180.0) -> dict[str, dict]:
        """Wait until an image record exists for every manifest URL in ``urls`` and all of them (and their
        children) are finished; returns {url: record}. Raises AssertionError with the state on timeout."""
        want = set(urls)
        deadline = time.monotonic() + timeout
        while True:
            recs = self.records()
            by_id = {r["ID"]: r for r in recs}
            images = {r["url"]: r for r in recs if r["type"] == "image" and r["url"] in want}
            done = len(images) == len(want) and all(
                r["status"] in FINAL and all(by_id.get(c, {}).get("status") in FINAL for c in r["children"])
                for r in images.values())
            if done:
                return images
            if time.monotonic() > deadline:
                missing = sorted(want - set(images))[:5]
                states = sorted({r["status"] for r in images.values()})
                raise AssertionError(f"preheats not finished: {len(images)}/{len(want)} records, states "
                                     f"{states}, missing e.g. {missing}\n{self.log_tail()}")
            time.sleep(0.3)


def queue_counts(path: str) -> dict[str, int]:
    """States of the webhook queue's items, read from its SQLite file (read-only)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        rows = db.execute("SELECT state, COUNT(*) FROM webhook_items GROUP BY state").fetchall()
    finally:
        db.close()
    out = {"ready": 0, "claimed": 0, "done": 0, "dead": 0}
    out.update(dict(rows))
    return out


def queue_errors(path: str) -> list[tuple[int, str]]:
    """(attempts, last_error) of every item whose attempts counted a failure."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute("SELECT attempts, last_error FROM webhook_items WHERE last_error != ''").fetchall()
    finally:
        db.close()


def wait_queue_drained(path: str, expect_done: int, timeout: float = 180.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        counts = queue_counts(path)
        if counts["done"] + counts["dead"] >= expect_done or time.monotonic() > deadline:
            return counts
        time.sleep(0.3)


def full_gets(front, digest: str) -> int:
    """Whole-blob GETs that reached the registry (the CDN's one-byte length probe is a 206, left out)."""
    return sum(1 for q in front.requests
               if q.method == "GET" and q.path.split("?")[0].endswith("/blobs/" + digest) and q.status == 200)


def skopeo_pull_via_mirror(home: str, registry_host: str, mirror_host: str, ref: str, dest_dir: str) -> None:
    """``skopeo copy docker://<registry_host>/<ref> dir:<dest_dir>`` with the dfdaemon at ``mirror_host`` as the
    registry's mirror (``registries.conf`` under this host's own HOME, as skopeo reads only that one)."""
    conf_dir = os.path.join(home, ".config", "containers")
    os.makedirs(conf_dir, exist_ok=True)
    with open(os.path.join(conf_dir, "registries.conf"), "w") as f:
        f.write("\n".join(["unqualified-search-registries = []", "", "[[registry]]",
                           f'prefix = "{registry_host}"', f'location = "{registry_host}"', "insecure = true", "",
                           "[[registry.mirror]]", f'location = "{mirror_host}"', "insecure = true", ""]))
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env.update(HOME=home, XDG_RUNTIME_DIR=home)
    argv = ["skopeo", "copy", "--retry-times", "0", "--src-tls-verify=false",
            f"docker://{registry_host}/{ref}", f"dir:{dest_dir}"]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    if res.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed: {res.stderr.strip()}")


def push_image_http(registry_url: str, repo: str, image, tag: str, session=None) -> None:
    """Push an OciImage with the registry's own upload API (monolithic blob uploads, then the manifest):
    the same requests a client sends, far cheaper than a skopeo process per image."""
    http = session or requests.Session()
    for blob in image.blobs:
        if http.head(f"{registry_url}/v2/{repo}/blobs/{blob.digest}", timeout=(3, 30)).status_code == 200:
            continue
        r = http.post(f"{registry_url}/v2/{repo}/blobs/uploads/", timeout=(3, 30))
        assert r.status_code == 202, (r.status_code, r.text)
        location = r.headers["Location"]
        if location.startswith("/"):
            location = registry_url + location
        with open(image.blob_path(blob.digest), "rb") as f:
            r = http.put(location, params={"digest": blob.digest}, data=f,
                         headers={"Content-Type": "application/octet-stream",
                                  "Content-Length": str(blob.size)}, timeout=(3, 60))
        assert r.status_code == 201, (r.status_code, r.text)
    r = http.put(f"{registry_url}/v2/{repo}/manifests/{tag}", data=image.manifest_bytes,
                 headers={"Content-Type": image.manifest.media_type}, timeout=(3, 30))
    assert r.status_code == 201, (r.status_code, r.text)
