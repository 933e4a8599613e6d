"""Fixtures for preheat integration tests: real supernode processes configured through their YAML file,
Harbor's request shapes, polling helpers and the dfget console script."""
from __future__ import annotations

import os
import subprocess
import time

import pytest
import requests
import yaml

from tests.helpers import free_port, script, wait_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HARBOR_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


class SupernodeProcess:
    """The ``supernode`` console script with a config file (``preheat:`` and ``webhooks:`` sections)."""

    def __init__(self, workdir, preheat: dict | None = None, webhooks: dict | None = None):
        self.workdir = workdir
        self.port, self.download_port = free_port(), free_port()
        self.home = os.path.join(str(workdir), "home")
        self.config_path = os.path.join(str(workdir), "supernode.yml")
        self.log_path = os.path.join(str(workdir), "supernode.log")
        self.preheat, self.webhooks = dict(preheat or {}), {"retry_backoff": "1s", **(webhooks or {})}
        self.proc = None
        self.http = requests.Session()

    def write_config(self) -> None:
        conf = {"base": {"listen_ip": "127.0.0.1", "advertise_ip": "127.0.0.1", "port": self.port,
                         "download_port": self.download_port, "home_dir": self.home,
                         "gc_initial_delay": "1h", "log_level": "INFO"},
                "preheat": self.preheat, "webhooks": self.webhooks}
        with open(self.config_path, "w") as f:
            yaml.safe_dump(conf, f)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def node(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "SupernodeProcess":
        """Write the config file (``preheat``/``webhooks`` may be changed until now) and start."""
        self.write_config()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([script("supernode"), "--config", self.config_path], env=child_env(),
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            wait_port(self.port)
            wait_port(self.download_port)
        except TimeoutError:
            self.stop()
            raise AssertionError(self.log_tail())
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_tail(self, n: int = 6000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

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
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=child_env())
    return res, out
