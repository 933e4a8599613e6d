"""Real supernode processes (the ``supernode`` console script with a YAML config including ``policies:``)
over one home directory, so a test can stop one and start the next against the same policy database."""
from __future__ import annotations

import os
import subprocess
import time

import pytest
import requests
import yaml

from tests.helpers import free_port, script, wait_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REPO = os.path.dirname(REPO)
TERMINAL = ("succeeded", "failed", "partial", "missed")


class PolicySupernode:
    def __init__(self, workdir, policies: dict | None = None):
        self.workdir = str(workdir)
        self.home = os.path.join(self.workdir, "home")
        os.makedirs(self.workdir, exist_ok=True)
        self.policies = dict(policies or {})
        self.proc = None
        self.port = self.download_port = 0
        self.http = requests.Session()

    def start(self) -> "PolicySupernode":
        self.port, self.download_port = free_port(), free_port()
        conf = {"listen_ip": "127.0.0.1", "advertise_ip": "127.0.0.1", "port": self.port,
                "download_port": self.download_port, "home_dir": self.home, "gc_initial_delay": "1h",
                "policies": {"poll_interval": "200ms", **self.policies}}
        path = os.path.join(self.workdir, "supernode.yml")
        with open(path, "w") as f:
            yaml.safe_dump(conf, f)
        env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
        with open(os.path.join(self.workdir, "supernode.log"), "ab") as log:
            self.proc = subprocess.Popen([script("supernode"), "--config", path], env=env, stdout=log,
                                         stderr=subprocess.STDOUT)
        try:
            wait_port(self.port)
        except TimeoutError:
            self.stop()
            raise AssertionError(self.log_tail()) from None
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
            with open(os.path.join(self.workdir, "supernode.log"), "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, method: str, path: str, **kw):
        return self.http.request(method, self.url + "/api/v1" + path, timeout=(3, 30), **kw)

    def wait_runs(self, policy_id: str, count: int = 1, timeout: float = 90.0) -> list[dict]:
        """The policy's runs once ``count`` of them are finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.api("GET", f"/policies/{policy_id}/runs").json()
            done = [r for r in runs if r["status"] in TERMINAL]
            if len(done) >= count:
                return done
            time.sleep(0.2)
        raise AssertionError(f"no finished run of {policy_id}: {self.log_tail()}")


@pytest.fixture
def supernode_proc(tmp_path):
    """``supernode_proc(policies={...})``; the same object can be stopped and started again."""
    made = []

    def make(**policies) -> PolicySupernode:
        sn = PolicySupernode(tmp_path / f"sn{len(made)}", policies)
        made.append(sn)
        return sn

    yield make
    for sn in made:
        sn.stop()


@pytest.fixture(scope="module")
def tagged_repo(registry_plain, tmp_path_factory):
    """``policies/app`` in a real registry with tags v1, v2 and latest (distinct one-layer images)."""
    from tests.fixtures.oci_image import build_oci_image
    for seed, tag in enumerate(("v1", "v2", "latest"), start=71):
        image = build_oci_image(str(tmp_path_factory.mktemp(f"img-{tag}")), tag=tag, layers=1,
                                layer_size=64 << 10, seed=seed)
        registry_plain.push(image, "policies/app", tag)
    return registry_plain, "policies/app"
