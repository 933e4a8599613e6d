"""A supernode configured by name with plug-ins from an installed package (the example package in
tests/plugins): real supernode process, real dfget downloads, real origin."""
import hashlib
import os
import subprocess

import pytest

from dfcommon import plugins
from tests.helpers import free_port, script, wait_port

from .conftest import child_env

pytestmark = pytest.mark.skipif(
    "flat-dir" not in plugins.installed("dragonfly.storage"),
    reason="the example plug-in package (tests/plugins/dragonfly_example_plugins) is not installed; "
           "`make test` installs it")


def _start(tmp_path, *flags):
    api, dl = free_port(), free_port()
    log = open(tmp_path / "supernode.log", "wb")
    proc = subprocess.Popen([script("supernode"), "--port", str(api), "--download-port", str(dl), "--home-dir",
                             str(tmp_path / "sn"), "--listen-ip", "127.0.0.1", "--fetch-allow", "127.0.0.0/8,::1", *flags], env=child_env(),
                            stdout=log, stderr=subprocess.STDOUT)
    return proc, api, dl, log


def _stop(proc, log):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def test_storage_and_policy_plugins_chosen_by_name_serve_a_swarm(origin, dfget, work, tmp_path):
    proc, api, dl, log = _start(tmp_path, "--storage-driver", "flat-dir", "--scheduler-policy", "last-first")
    try:
        wait_port(api)
        wait_port(dl)
        node = f"127.0.0.1:{api}"
        data = os.urandom(13 << 20)                  # 4 pieces of 4 MiB
        (origin.root_path / "plug.bin").write_bytes(data)
        url = origin.url("plug.bin")
        for i in range(2):
            out = work / f"host{i}" / "plug.bin"
            r = dfget("-u", url, "-o", str(out), "-n", node, "--notbs", "--home", str(work / f"home{i}"))
            assert r.returncode == 0, r.stdout + r.stderr
            assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(data).digest()
        assert origin.bytes_sent["/plug.bin"] == len(data)
        # the CDN copy lives where the plug-in driver keeps it: flat files named by the quoted key
        flat = tmp_path / "sn" / "flat"
        assert any(n.startswith("download%2F") for n in os.listdir(flat))
        assert not (tmp_path / "sn" / "repo" / "download").exists()
    finally:
        _stop(proc, log)


@pytest.mark.parametrize("flag,name,setting", [("--storage-driver", "s3", "storage_driver"),
                                               ("--scheduler-policy", "fastest", "scheduler_policy")])
def test_an_unknown_plugin_name_stops_the_start_with_the_known_ones(tmp_path, flag, name, setting):
    r = subprocess.run([script("supernode"), "--port", str(free_port()), "--download-port", str(free_port()),
                        "--home-dir", str(tmp_path / "sn"), "--listen-ip", "127.0.0.1", flag, name],
                       capture_output=True, text=True, timeout=60, env=child_env())
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"unknown {setting} '{name}'" in r.stderr
    assert ("flat-dir" if setting == "storage_driver" else "last-first") in r.stderr
    assert "Traceback" not in r.stderr
