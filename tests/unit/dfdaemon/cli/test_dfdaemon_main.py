"""The ``dfdaemon`` command line: subcommands, flags, config errors and exit codes (real processes)."""
from __future__ import annotations

import json
import socket
import subprocess

import pytest
import requests
import yaml

from dfcommon.errors import ConfigError
from dfdaemon.cli.main import EXIT_CONFIG, build_parser, overrides_from
from dfdaemon.config import load_config, redacted
from tests.fixtures.tokenserver import make_cert
from tests.helpers import free_port, script, wait_port


def run(*args, timeout=30):
    return subprocess.run([script("dfdaemon"), *args], capture_output=True, text=True, timeout=timeout)


def test_version_and_help():
    out = run("version")
    assert out.returncode == 0 and json.loads(out.stdout)["name"] == "dfdaemon"
    helptext = run("--help").stdout
    for flag in ("--registry", "--node", "--workHome", "--hostIp", "--peerPort", "--certpem", "examples:"):
        assert flag in helptext


def test_config_subcommand_redacts_secrets(tmp_path):
    path = tmp_path / "dfdaemon.yml"
    path.write_text(yaml.safe_dump({"registries": [{"url": "https://harbor.example.com", "username": "admin",
                                                    "password": "s3cret-pass"}], "supernode_token": "tok-123"}))
    out = run("config", "--config", str(path), "--node", "a:8002,b:8002", "--node", "c:8002",
              "--registry", "http://127.0.0.1:5000", "--work-home", str(tmp_path))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert "s3cret-pass" not in out.stdout and "tok-123" not in out.stdout
    assert doc["nodes"] == ["a:8002", "b:8002", "c:8002"]
    assert doc["registry_mirror"]["remote"] == "http://127.0.0.1:5000"
    assert doc["work_home"] == str(tmp_path)


@pytest.mark.parametrize("content", [{"no_such_key": 1}, {"registry_mirror": {"remote": "ftp://x"}},
                                     {"port": 70000}, {"access": "maybe"},
                                     {"registries": [{"url": "http://a:1"}, {"url": "http://a:1"}]}])
def test_bad_config_exits_10(tmp_path, content):
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(content))
    out = run("--config", str(path))
    assert out.returncode == EXIT_CONFIG and "configuration error" in out.stderr


def test_busy_port_exits_14(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        out = run("--port", str(port), "--work-home", str(tmp_path), "--node", "127.0.0.1:1")
    assert out.returncode == 14, out.stderr


def test_tls_listener_and_clean_stop(tmp_path):
    key, cert, _ = make_cert("127.0.0.1")
    (tmp_path / "k.pem").write_bytes(key)
    (tmp_path / "c.pem").write_bytes(cert)
    port = free_port()
    proc = subprocess.Popen([script("dfdaemon"), "--port", str(port), "--workHome", str(tmp_path),
                             "--certpem", str(tmp_path / "c.pem"), "--keypem", str(tmp_path / "k.pem"),
                             "--node", "127.0.0.1:1", "--peerPort", str(free_port())],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        r = requests.get(f"https://127.0.0.1:{port}/_ping", verify=False, timeout=5)
        assert r.text == "OK"
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0


def test_flags_override_file_and_env(tmp_path):
    path = tmp_path / "d.yml"
    path.write_text(yaml.safe_dump({"port": 1234, "ratelimit": "5MB", "workHome": "/x"}))
    args = build_parser().parse_args(["--port", "4321", "--ratelimit", "1M", "--verbose"])
    conf = load_config(str(path), overrides_from(args), environ={"DFDAEMON_HOST_IP": "0.0.0.0"})
    assert (conf.port, conf.ratelimit, conf.host_ip, conf.work_home) == (4321, 1 << 20, "0.0.0.0", "/x")
    assert conf.log_level == "DEBUG" and "ns" in conf.task_filters
    assert redacted(conf)["port"] == 4321
    with pytest.raises(ConfigError):
        load_config(None, {"certpem": "a.pem"})


def test_dragonfly_dfget_flags_are_read(tmp_path):
    conf = load_config(None, {"dfget_flags": ["--node", "10.0.0.1:8002", "-f", "Expires&X-Amz-Date"]})
    assert conf.node_list == ["10.0.0.1:8002"]
    assert conf.task_filters[:3] == ["Expires", "Signature", "X-Amz-Date"] and "ns" in conf.task_filters
