"""The dfdaemon's mirror/proxy listener off loopback: real dfdaemon processes in a network namespace with two
non-loopback addresses. Bound to every address with nothing configured, the dfdaemon refuses to start (exit 10)
naming ``allowed_clients`` and ``client_auth``; with ``allowed_clients`` a client from a listed network is
served, one from another address gets ``403`` before any request is handled (also a proxy CONNECT), loopback
clients are always served, and the refusals are counted; ``client_auth: none`` opens it to everyone; a bad
network entry stops the start; a loopback bind needs nothing."""
from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess

import pytest
import yaml

from tests.helpers import free_port, script
from tests.integration.dfdaemon.mirror_stack import DfdaemonProcess

pytestmark = pytest.mark.slow

NEAR, FAR = "10.213.7.1", "10.213.8.1"        # two addresses on the namespace's lo


@pytest.fixture(scope="module")
def ns():
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("needs root and ip(8) for a network namespace")
    from tests.e2e.runtimes.netns import Netns
    n = Netns.create(prefix="dfsec", extra_addrs=[f"{NEAR}/32", f"{FAR}/32"])
    yield n
    n.delete()


def _request(source: str, dest: str, port: int, method="GET", path="/v2/") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(dest, port, timeout=10, source_address=(source, 0))
    try:
        conn.request(method, path, headers={"Host": f"{dest}:{port}"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _start_refused(tmp_path, conf: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "dfdaemon.yml"
    path.write_text(yaml.safe_dump({"port": free_port(), "work_home": str(tmp_path / "home"),
                                    "nodes": ["127.0.0.1:1"], **conf}))
    return subprocess.run([script("dfdaemon"), "--config", str(path)], capture_output=True, text=True, timeout=60)


def test_every_address_without_a_client_setting_is_refused(tmp_path):
    r = _start_refused(tmp_path, {"host_ip": "0.0.0.0"})
    assert r.returncode == 10, r.stdout + r.stderr
    assert "allowed_clients" in r.stderr and "client_auth: none" in r.stderr and "host_ip 0.0.0.0" in r.stderr
    r = _start_refused(tmp_path, {"host_ip": "0.0.0.0", "allowed_clients": ["10.0.0.0/33"]})
    assert r.returncode == 10 and "allowed_clients[0]" in r.stderr, r.stderr
    r = _start_refused(tmp_path, {"host_ip": "0.0.0.0", "client_auth": "maybe"})
    assert r.returncode == 10 and "client_auth must be one of auto, none" in r.stderr, r.stderr


def test_allowed_clients_on_a_namespace_address(ns, tmp_path):
    with ns.entered():
        r = _start_refused(tmp_path, {"host_ip": NEAR})
        assert r.returncode == 10 and f"host_ip {NEAR}" in r.stderr, r.stderr
        d = DfdaemonProcess(str(tmp_path / "guarded"), extra={"host_ip": "0.0.0.0", "log_level": "INFO",
                                                              "allowed_clients": [f"{NEAR}/24"],
                                                              "proxies": [{"regx": "blobs/sha256.*"}]})
        try:
            status, _ = _request(NEAR, NEAR, d.port)
            assert status != 403                              # a listed network: the mirror answers
            status, body = _request(FAR, NEAR, d.port)
            assert status == 403 and json.loads(body)["errors"][0]["code"] == "DENIED"
            assert FAR in json.loads(body)["errors"][0]["message"]
            status, _ = _request(FAR, FAR, d.port, method="CONNECT", path=f"{NEAR}:443")
            assert status == 403                              # no tunnel either
            status, _ = _request("127.0.0.1", "127.0.0.1", d.port)
            assert status != 403                              # loopback: the host's own runtimes
            assert d.metric("dragonfly_dfdaemon_clients_refused_total") == 2
            assert "client refused address=" + FAR in d.log_tail(100000)
            assert d.proc.poll() is None
        finally:
            d.stop()
        d = DfdaemonProcess(str(tmp_path / "open"), extra={"host_ip": "0.0.0.0", "client_auth": "none"})
        try:
            status, _ = _request(FAR, NEAR, d.port)
            assert status != 403
            assert "client_auth none" in d.log_tail(100000)
        finally:
            d.stop()
    # a loopback bind is unchanged: nothing to configure
    d = DfdaemonProcess(str(tmp_path / "loopback"))
    try:
        assert _request("127.0.0.1", "127.0.0.1", d.port)[0] != 403
    finally:
        d.stop()
