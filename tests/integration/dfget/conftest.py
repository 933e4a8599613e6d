"""Fixtures for dfget integration tests: a real origin, a real supernode process, the dfget
console script, and clean-up of the upload servers dfget spawns for a test's work homes."""
from __future__ import annotations

import os
import subprocess

import pytest

from tests.e2e.p2p_stack import stop_upload_servers
from tests.fixtures.origin import OriginServer
from tests.helpers import free_port, script, wait_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


@pytest.fixture
def work(tmp_path):
    """A scratch area; upload servers started with a home under it are stopped afterwards."""
    yield tmp_path
    stop_upload_servers(str(tmp_path))


@pytest.fixture
def origin(tmp_path):
    root = tmp_path / "origin"
    (root / "private").mkdir(parents=True)
    srv = OriginServer(str(root)).start()
    srv.root_path = root
    yield srv
    srv.stop()


@pytest.fixture
def supernode(tmp_path):
    api, dl = free_port(), free_port()
    log = open(tmp_path / "supernode.log", "wb")
    proc = subprocess.Popen([script("supernode"), "--port", str(api), "--download-port", str(dl), "--home-dir",
                             str(tmp_path / "sn"), "--listen-ip", "127.0.0.1", "--fetch-allow", "127.0.0.0/8,::1"], env=child_env(), stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        wait_port(api)
        wait_port(dl)
        yield f"127.0.0.1:{api}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def dfget(work):
    def run(*args, timeout=120):
        cmd = [script("dfget"), "--home", str(work / "home"), "--alivetime", "30s", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=child_env())
    return run
