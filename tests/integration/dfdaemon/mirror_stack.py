"""Real dfdaemon processes for the mirror's integration tests, and a small OCI pull client."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess

import requests
import yaml

from tests.helpers import free_port, script, wait_port


class DfdaemonProcess:
    """A ``dfdaemon`` console-script process on a free port with its own work home and config file."""

    def __init__(self, home: str, nodes=(), remote: str | None = None, registries=(), extra: dict | None = None,
                 port: int | None = None):
        self.home = home
        self.port = port or free_port()
        self.peer_port = free_port()
        os.makedirs(home, exist_ok=True)
        conf = {"port": self.port, "host_ip": "127.0.0.1", "work_home": home, "local_ip": "127.0.0.1",
                "peerPort": self.peer_port, "nodes": list(nodes) or ["127.0.0.1:1"],
                "registries": list(registries), "stall_timeout": "30s", "upstream_timeout": "10s",
                "log_level": "DEBUG"}
        if remote:
            conf["registry_mirror"] = {"remote": remote}
        conf.update(extra or {})
        self.config_path = os.path.join(home, "dfdaemon.yml")
        with open(self.config_path, "w") as f:
            yaml.safe_dump(conf, f)
        self.log_path = os.path.join(home, "dfdaemon.log")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([script("dfdaemon"), "--config", self.config_path], stdout=self._log,
                                     stderr=subprocess.STDOUT)
        try:
            wait_port(self.port, timeout=20)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"dfdaemon did not start: {self.log_tail()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cache_dir(self) -> str:
        return os.path.join(self.home, "mirror", "blobs")

    def cached_files(self) -> list[str]:
        out = []
        for root, _, files in os.walk(self.cache_dir):
            out.extend(os.path.join(root, f) for f in files)
        return out

    def incoming_files(self) -> list[str]:
        d = os.path.join(self.cache_dir, ".incoming")
        return os.listdir(d) if os.path.isdir(d) else []

    def metric(self, name: str, **labels) -> float:
        text = requests.get(self.url + "/metrics", timeout=5).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith("#") or not line:
                continue
            key, _, value = line.rpartition(" ")
            base, _, rest = key.partition("{")
            if base == name and all(f'{k}="{v}"' in rest for k, v in labels.items()):
                total += float(value)
        return total

    def log_tail(self, n: int = 4000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def get_token(token_server, repo: str, creds=None) -> str:
    """A pull token from the token server, the way a client runs the flow after a 401."""
    params = {"service": token_server.service, "scope": f"repository:{repo}:pull"}
    r = requests.get(token_server.realm, params=params, auth=creds, timeout=10)
    r.raise_for_status()
    return r.json()["token"]


def pull_blob(mirror_url: str, repo: str, digest: str, headers=None, params=None, timeout=60) -> bytes:
    r = requests.get(f"{mirror_url}/v2/{repo}/blobs/{digest}", headers=headers or {}, params=params,
                     timeout=timeout)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    return r.content
