"""Fixtures for component auth and TLS: key pairs and tokens from the real ``supernode`` CLI, a real supernode
process with ``auth:`` on (optionally TLS), a real origin and the ``dfget`` console script."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from dfcommon.tls import make_test_pki
from tests.fixtures.origin import OriginServer
from tests.helpers import free_port, script, wait_port
from tests.e2e.p2p_stack import stop_upload_servers
from tests.integration.dfget.conftest import child_env


def run_cli(*args, timeout=60):
    return subprocess.run([script("supernode"), *args], capture_output=True, text=True, timeout=timeout,
                          env=child_env())


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    r = run_cli("keys", "generate", "--signing-key", str(d / "auth.key"), "--public-key", str(d / "auth.pub"))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["type"] == "ed25519"
    assert oct(os.stat(d / "auth.key").st_mode & 0o777) == "0o600"
    return {"private": str(d / "auth.key"), "public": str(d / "auth.pub")}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_test_pki(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture(scope="module")
def mint(keys):
    def mint(role, ttl="1h", subject=""):
        r = run_cli("token", "--role", role, "--ttl", ttl, "--signing-key", keys["private"],
                    *(["--subject", subject] if subject else []))
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()
    return mint


class Supernode:
    def __init__(self, home, auth: dict):
        self.api, self.dl = free_port(), free_port()
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.config = home / "supernode.yml"
        self.config.write_text(yaml.safe_dump({"auth": auth}))
        self.tls = bool(auth.get("tls_cert"))
        self.log = open(home / "supernode.log", "wb")
        self.proc = subprocess.Popen([script("supernode"), "--config", str(self.config), "--port", str(self.api),
                                      "--download-port", str(self.dl), "--home-dir", str(home / "sn"),
                                      "--listen-ip", "127.0.0.1", "--fetch-allow", "127.0.0.0/8,::1"], env=child_env(), stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_port(self.api)
        wait_port(self.dl)

    @property
    def node(self) -> str:
        return f"127.0.0.1:{self.api}"

    def url(self, path: str) -> str:
        return f"{'https' if self.tls else 'http'}://{self.node}{path}"

    def piece_url(self, task_id: str) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.dl}/download/{task_id[:3]}/{task_id}"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def supernode(tmp_path_factory, keys):
    sn = Supernode(tmp_path_factory.mktemp("sn-auth"), {"enabled": True, "signing_key": keys["private"],
                                                         "peer_token_ttl": "2m"})
    yield sn
    sn.stop()


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    root = tmp_path_factory.mktemp("origin")
    srv = OriginServer(str(root)).start()
    srv.root_path = root
    yield srv
    srv.stop()


@pytest.fixture
def work(tmp_path):
    yield tmp_path
    stop_upload_servers(str(tmp_path))


@pytest.fixture
def dfget(work):
    def run(*args, token=None, timeout=120):
        env = child_env()
        env.pop("DFGET_SUPERNODE_TOKEN", None)
        if token:
            env["DFGET_SUPERNODE_TOKEN"] = token
        cmd = [script("dfget"), "--alivetime", "60s", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    return run
