"""containerd and dockerd processes in throw-away directories, for pulls through the dfdaemon mirror.

Both keep every file under their own work directory (root, state, sockets, exec root, data root,
daemon.json), so they never touch a system containerd or dockerd. ``stop()`` always ends the
process, unmounts what the daemon left mounted under its directories and removes the files it wrote
outside them (``/etc/docker/key.json`` when it did not exist before).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import time

log = logging.getLogger(__name__)

DOCKER_KEY = "/etc/docker/key.json"


def _mounts_under(path: str) -> list[str]:
    prefix = os.path.realpath(path).rstrip("/") + "/"
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point.startswith(prefix):
                out.append(point)
    return sorted(out, key=len, reverse=True)


def unmount_under(path: str) -> None:
    for point in _mounts_under(path):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=30)


def _terminate(proc: subprocess.Popen, timeout: float) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _tail(path: str, n: int = 3000) -> str:
    try:
        with open(path, "rb") as f:
            return f.read()[-n:].decode(errors="replace")
    except OSError:
        return ""


class ContainerdProcess:
    """``containerd`` with the cri plugin disabled, its own root/state and socket; ``ctr(...)`` runs ctr."""

    def __init__(self, workdir: str, timeout: float = 30.0):
        self.workdir = workdir
        self.socket = os.path.join(workdir, "c.sock")
        self.log_path = os.path.join(workdir, "containerd.log")
        conf = os.path.join(workdir, "config.toml")
        with open(conf, "w") as f:
            f.write("version = 2\n"
                    f'root = "{workdir}/root"\nstate = "{workdir}/state"\n'
                    'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                    f'[grpc]\n  address = "{self.socket}"\n'
                    f'[ttrpc]\n  address = "{self.socket}.ttrpc"\n')
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(["containerd", "--config", conf], stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"containerd exited with {self.proc.returncode}: {_tail(self.log_path)}")
            if os.path.exists(self.socket) and self.ctr("version", check=False).returncode == 0:
                return
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"containerd did not answer: {_tail(self.log_path)}")
            time.sleep(0.1)

    def ctr(self, *args: str, namespace: str = "default", check: bool = True, timeout: float = 180,
            text: bool = True) -> subprocess.CompletedProcess:
        argv = ["ctr", "--address", self.socket, "--namespace", namespace, *args]
        res = subprocess.run(argv, capture_output=True, text=text, timeout=timeout)
        if check and res.returncode != 0:
            err = res.stderr if text else res.stderr.decode(errors="replace")
            raise RuntimeError(f"{' '.join(argv)} failed ({res.returncode}): {err.strip()}")
        return res

    def stop(self) -> None:
        _terminate(self.proc, 20)
        unmount_under(self.workdir)
        shutil.rmtree(self.workdir, ignore_errors=True)


class DockerdProcess:
    """``dockerd`` (vfs, no bridge, no iptables) configured by its own ``daemon.json``.

    ``env`` adds environment variables (``HTTP_PROXY`` ...). Start it inside a loopback-only network
    namespace when it has registry mirrors: dockerd falls back to Docker Hub when a mirror fails.
    """

    def __init__(self, workdir: str, daemon_json: dict, env: dict | None = None, timeout: float = 60.0,
                 data_root: str | None = None):
        """``data_root`` keeps images across runs (it is not removed by stop); default: inside ``workdir``."""
        self.workdir = workdir
        self.data_root = data_root or os.path.join(workdir, "data")
        self.socket = os.path.join(workdir, "d.sock")
        self.pidfile = os.path.join(workdir, "dockerd.pid")
        self.exec_root = os.path.join(workdir, "x")
        self.log_path = os.path.join(workdir, "dockerd.log")
        self._had_key = os.path.exists(DOCKER_KEY)
        conf = os.path.join(workdir, "daemon.json")
        with open(conf, "w") as f:
            json.dump(daemon_json, f, indent=2)
        argv = ["dockerd", "--config-file", conf, "--iptables=false", "--bridge=none", "--storage-driver=vfs",
                "--data-root", self.data_root, "--exec-root", self.exec_root,
                "--pidfile", self.pidfile, "-H", f"unix://{self.socket}"]
        full_env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "no_proxy")}
        full_env.update(env or {})
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=full_env)
        self._wait(timeout)

    @property
    def base_url(self) -> str:
        return f"unix://{self.socket}"

    def client(self):
        import docker
        return docker.DockerClient(base_url=self.base_url, timeout=180)

    def _wait(self, timeout: float) -> None:
        import docker
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockerd exited with {self.proc.returncode}: {self.log_tail()}")
            if os.path.exists(self.socket):
                try:
                    c = docker.DockerClient(base_url=self.base_url, timeout=5)
                    try:
                        if c.ping():
                            return
                    finally:
                        c.close()
                except Exception:   # noqa: BLE001 - not up yet
                    pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"dockerd did not answer: {self.log_tail()}")
            time.sleep(0.2)

    def log_tail(self, n: int = 4000) -> str:
        return _tail(self.log_path, n)

    def stop(self) -> None:
        _terminate(self.proc, 30)
        unmount_under(self.workdir)
        unmount_under(self.data_root)
        if not self._had_key and os.path.exists(DOCKER_KEY):
            try:
                os.remove(DOCKER_KEY)
            except OSError as e:
                log.warning("cannot remove path=%s error=%s", DOCKER_KEY, e.strerror)
        shutil.rmtree(self.workdir, ignore_errors=True)
