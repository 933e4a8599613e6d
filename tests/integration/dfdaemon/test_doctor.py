"""``dfdaemon doctor`` against real files in a temporary /etc, a real supernode and a real dfdaemon process.

The fixes the doctor prints are written back into the files and a second run must then pass: the advice is
checked by following it.
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from tests.helpers import free_port, script

HOSTS_TOML = 'server = "{server}"\n\n[host."{mirror}"]\n  capabilities = ["pull", "resolve"]\n'
CONTAINERD_TOML = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "{certs}"\n'
PODMAN_HUB = """unqualified-search-registries = ["docker.io"]

[[registry]]
prefix = "docker.io"
location = "docker.io"

[[registry.mirror]]
location = "{host}"
insecure = true
"""
PODMAN_LAB = """
[[registry]]
prefix = "registry.lab:5000"
location = "registry.lab:5000"
insecure = true

[[registry.mirror]]
location = "{host}/registry.lab"
insecure = true
"""
REGISTRIES = [{"name": "registry.lab", "url": "http://registry.lab:5000"}]


class Etc:
    """A host's runtime configuration files under a temporary directory."""

    def __init__(self, root):
        self.root = root
        self.docker = root / "docker" / "daemon.json"
        self.containerd = root / "containerd" / "config.toml"
        self.certs = root / "containerd" / "certs.d"
        self.podman = root / "containers" / "registries.conf"
        for path in (self.docker, self.containerd, self.podman):
            path.parent.mkdir(parents=True, exist_ok=True)

    def write_good(self, mirror: str):
        self.docker.write_text(json.dumps({"registry-mirrors": [mirror], "log-level": "warn"}))
        self.containerd.write_text(CONTAINERD_TOML.format(certs=self.certs))
        for registry, server in (("docker.io", "https://registry-1.docker.io"),
                                 ("registry.lab:5000", "http://registry.lab:5000")):
            (self.certs / registry).mkdir(parents=True, exist_ok=True)
            (self.certs / registry / "hosts.toml").write_text(HOSTS_TOML.format(server=server, mirror=mirror))
        host = mirror.split("://")[1]
        self.podman.write_text(PODMAN_HUB.format(host=host) + PODMAN_LAB.format(host=host))

    def args(self):
        return ["--docker-config", str(self.docker), "--containerd-config", str(self.containerd),
                "--containerd-certs-dir", str(self.certs), "--registries-conf", str(self.podman)]


def doctor(config_path, etc: Etc, *extra):
    argv = [script("dfdaemon"), "doctor", "--config", str(config_path), *etc.args(), *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def findings(run):
    return [json.loads(line) for line in run.stdout.splitlines() if line.strip()]


@pytest.fixture
def stack(supernode, dfdaemon_factory):
    return dfdaemon_factory(nodes=[supernode.node], registries=REGISTRIES)


def test_a_host_set_up_as_the_runtime_guide_says_passes(stack, tmp_path):
    etc = Etc(tmp_path)
    etc.write_good(stack.url)
    run = doctor(stack.config_path, etc)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[-1] == "all checks passed"
    checks = {line.split()[1] for line in lines[:-1]}
    assert checks == {"docker", "containerd", "podman", "supernode", "mirror"}
    assert all(line.startswith("ok") for line in lines[:-1]), run.stdout
    assert sum("registry.lab:5000 goes through" in line for line in lines) == 2   # containerd and podman


def test_wrong_files_get_fixes_that_work_when_followed(stack, tmp_path):
    etc = Etc(tmp_path)
    etc.write_good(stack.url)
    host = stack.url.split("://")[1]
    etc.docker.write_text(json.dumps({"registry-mirrors": [stack.url + "/v2"], "debug": True}))
    etc.containerd.write_text("version = 2\n")
    (etc.certs / "registry.lab:5000" / "hosts.toml").write_text(
        HOSTS_TOML.format(server="http://registry.lab:5000", mirror=stack.url).replace('"pull", "resolve"', '"push"'))
    broken_lab = PODMAN_LAB.format(host=host).rstrip("\n").rsplit("\n", 1)[0] + "\n"    # mirror not insecure
    etc.podman.write_text(PODMAN_HUB.format(host=host) + broken_lab)
    run = doctor(stack.config_path, etc, "--json")
    assert run.returncode == 1, run.stdout + run.stderr
    fixes = [f for f in findings(run) if f["status"] == "fix"]
    assert {(f["check"], os.path.basename(f["path"])) for f in fixes} == {
        ("docker", "daemon.json"), ("containerd", "config.toml"), ("containerd", "hosts.toml"),
        ("podman", "registries.conf")}
    assert "not the bare mirror URL" in next(f["message"] for f in fixes if f["check"] == "docker")
    assert "needs insecure = true" in next(f["message"] for f in fixes if f["check"] == "podman")
    assert "capabilities" in next(f["message"] for f in fixes if f["path"].endswith("hosts.toml"))
    for f in fixes:                   # follow the advice: the podman entry is replaced, the other files rewritten
        if f["check"] == "podman":
            etc.podman.write_text(etc.podman.read_text().replace(broken_lab, "\n" + f["fix"]))
        else:
            with open(f["path"], "w") as out:
                out.write(f["fix"])
    assert json.loads(etc.docker.read_text()) == {"registry-mirrors": [stack.url], "debug": True}
    again = doctor(stack.config_path, etc)
    assert again.returncode == 0, again.stdout + again.stderr


def test_missing_files_are_created_from_the_printed_text(stack, tmp_path):
    etc = Etc(tmp_path)
    run = doctor(stack.config_path, etc, "--json")
    assert run.returncode == 1, run.stdout + run.stderr
    written = set()
    for f in findings(run):
        if f["status"] == "fix":
            os.makedirs(os.path.dirname(f["path"]), exist_ok=True)
            with open(f["path"], "a") as out:
                out.write(f["fix"] + "\n")
            written.add(os.path.relpath(f["path"], tmp_path))
    assert written == {"docker/daemon.json", "containerd/config.toml", "containerd/certs.d/docker.io/hosts.toml",
                       "containerd/certs.d/registry.lab:5000/hosts.toml", "containers/registries.conf"}
    again = doctor(stack.config_path, etc)
    assert again.returncode == 0, again.stdout + again.stderr


def test_unreachable_supernode_and_mirror_exit_2(tmp_path, dfdaemon_factory):
    dead = f"127.0.0.1:{free_port()}"
    config = tmp_path / "dfdaemon.yml"
    config.write_text(yaml.safe_dump({"nodes": [dead], "port": free_port(), "registries": REGISTRIES}))
    etc = Etc(tmp_path)
    etc.write_good(f"http://127.0.0.1:{yaml.safe_load(config.read_text())['port']}")
    run = doctor(config, etc)
    assert run.returncode == 2, run.stdout
    assert f"FAIL supernode  http://{dead}/_ping cannot be reached" in run.stdout
    assert "no supernode answers" in run.stdout and "start the dfdaemon" in run.stdout
    etc.docker.write_text("{not json")
    both = doctor(config, etc)
    assert both.returncode == 3 and "is not valid JSON" in both.stdout


def test_offline_and_runtime_selection(stack, tmp_path):
    etc = Etc(tmp_path)
    etc.write_good(stack.url)
    run = doctor(stack.config_path, etc, "--offline", "--runtime", "podman", "--json")
    assert run.returncode == 0
    assert {f["check"] for f in findings(run)} == {"podman"}
    absent = tmp_path / "nowhere"
    run = subprocess.run([script("dfdaemon"), "doctor", "--config", str(stack.config_path), "--offline",
                          "--docker-config", str(absent / "docker" / "daemon.json"),
                          "--containerd-config", str(absent / "containerd" / "config.toml"),
                          "--registries-conf", str(absent / "containers" / "registries.conf")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.count("skip") == 3, run.stdout


def test_bad_configuration_exits_10(tmp_path):
    config = tmp_path / "dfdaemon.yml"
    config.write_text("no_such_key: 1\n")
    run = subprocess.run([script("dfdaemon"), "doctor", "--config", str(config)], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 10 and "configuration error" in run.stderr and "no_such_key" in run.stderr
    bad_flag = subprocess.run([script("dfdaemon"), "doctor", "--runtime", "rkt"], capture_output=True, text=True,
                              timeout=60)
    assert bad_flag.returncode == 10


def test_containerd_2_default_config_path_counts(stack, tmp_path):
    """A version 3 config (containerd 2) without config_path uses /etc/containerd/certs.d:/etc/docker/certs.d."""
    etc = Etc(tmp_path)
    etc.write_good(stack.url)
    etc.containerd.write_text("version = 3\n")
    run = doctor(stack.config_path, etc, "--offline", "--runtime", "containerd", "--json")
    (config_finding,) = [f for f in findings(run) if f["path"] == str(etc.containerd)]
    assert config_finding["status"] == "fix" and "not" in config_finding["message"]     # certs dir is elsewhere
    run = subprocess.run([script("dfdaemon"), "doctor", "--config", str(stack.config_path), "--offline",
                          "--runtime", "containerd", "--containerd-config", str(etc.containerd),
                          "--containerd-certs-dir", "/etc/docker/certs.d", "--json"],
                         capture_output=True, text=True, timeout=60)
    assert [f["status"] for f in findings(run) if f["path"] == str(etc.containerd)] == ["ok"]
