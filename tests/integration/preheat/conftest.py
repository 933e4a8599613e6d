"""Fixtures for preheat integration tests: real supernode processes configured through their YAML file,
Harbor's request shapes, polling helpers and the dfget console script."""
from __future__ import annotations

import subprocess
import time

import pytest
import requests

from tests.fixtures.supernode_config import PreheatSupernode
from tests.helpers import script

HARBOR_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


class SupernodeProcess(PreheatSupernode):
    """The ``supernode`` console script with a config file (``preheat:`` and ``webhooks:`` sections), plus the
    calls Harbor makes to it."""

    def __init__(self, workdir, preheat: dict | None = None, webhooks: dict | None = None):
        super().__init__(workdir, preheat, webhooks)

    # -- Harbor's calls ---------------------------------------------------------------------------
    def get(self, path: str, **kw):
        return self.http.get(self.url + path, timeout=(3, 30), **kw)

    def post(self, path: str, body: dict, headers: dict | None = None):
        return self.http.post(self.url + path, json=body, headers={**HARBOR_HEADERS, **(headers or {})},
                              timeout=(3, 30))

    def poll_legacy(self, rec_id: str, headers: dict | None = None, timeout: float = 90.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            body = self.get(f"/preheats/{rec_id}", headers={**HARBOR_HEADERS, **(headers or {})}).json()
            if body["status"] in ("SUCCESS", "FAILED") or time.monotonic() > deadline:
                return body
            time.sleep(0.2)

    def poll_job(self, job_id: int, headers: dict | None = None, timeout: float = 90.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            body = self.get(f"/oapi/v1/jobs/{job_id}", headers={**HARBOR_HEADERS, **(headers or {})}).json()
            if body["state"] != "PENDING" or time.monotonic() > deadline:
                return body
            time.sleep(0.2)


@pytest.fixture
def supernode_factory(tmp_path_factory):
    started = []

    def make(preheat: dict | None = None, webhooks: dict | None = None, start: bool = True) -> SupernodeProcess:
        """A supernode; with ``start=False`` the caller edits ``sn.preheat``/``sn.webhooks`` then starts it."""
        sn = SupernodeProcess(tmp_path_factory.mktemp("sn"), preheat, webhooks)
        started.append(sn)
        return sn.start() if start else sn

    yield make
    for sn in started:
        sn.stop()


def harbor_token(token_server, repo: str, lifetime: int | None = None) -> str:
    """A pull token for ``repo`` from the token server (what Harbor mints for its provider)."""
    if lifetime is not None:
        token_server.settings.lifetime = lifetime
    try:
        r = requests.get(token_server.realm, params={"service": token_server.service,
                                                     "scope": f"repository:{repo}:pull"},
                         auth=("testuser", "testpass"), timeout=(3, 10))
        r.raise_for_status()
        return "Bearer " + r.json()["token"]
    finally:
        token_server.settings.lifetime = None


def harbor_preheat_body(front_url: str, repo: str, tag: str, digest: str, auth: str | None) -> dict:
    """Exactly what Harbor's legacy driver posts (PreheatImage, ≤ 2.11)."""
    return {"type": "image", "url": f"{front_url}/v2/{repo}/manifests/{tag}",
            "headers": {"Authorization": auth} if auth else {}, "image": repo, "tag": tag, "digest": digest}


def df2_job_body(url: str, auth: str | None) -> dict:
    """Exactly what Harbor's Dragonfly 2 driver posts (every key present)."""
    return {"type": "preheat",
            "args": {"type": "image", "url": url, "tag": "", "filtered_query_params": "",
                     "headers": {"Authorization": auth} if auth else {}, "scope": "single_seed_peer",
                     "concurrent_count": 0, "timeout": 0},
            "scheduler_cluster_ids": None}


def dfget_blob(tmp_path, node: str, url: str, auth: str | None = None, timeout: float = 120):
    """Download through the supernode only (``--notbs``, cdn pattern: no upload server is left behind)."""
    out = tmp_path / ("blob-" + url.rsplit(":", 1)[-1][:16])
    cmd = [script("dfget"), "-u", url, "-o", str(out), "-n", node, "--notbs", "-p", "cdn",
           "--home", str(tmp_path / "dfhome")]
    if auth:
        cmd += ["--header", f"Authorization: {auth}"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return res, out
