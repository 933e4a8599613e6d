"""Real processes for end-to-end tests of the P2P core: a supernode process and dfget runs."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import requests

from tests.helpers import free_port, script, wait_port


class SupernodeProcess:
    """A `supernode` console-script process on free ports with its own home dir."""

    def __init__(self, home: str, extra_args=(), advertise_ip: str = "127.0.0.1", listen_ip: str = "127.0.0.1"):
        self.home = home
        self.port = free_port()
        self.download_port = free_port()
        self.ip = advertise_ip
        os.makedirs(home, exist_ok=True)
        self.log_path = os.path.join(home, "supernode.log")
        argv = [script("supernode"), "--home-dir", home, "--port", str(self.port),
                "--download-port", str(self.download_port), "--advertise-ip", advertise_ip,
                "--listen-ip", listen_ip, "--fetch-allow", "127.0.0.0/8,::1", *extra_args]   # origins on loopback
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)
        host = advertise_ip if listen_ip == "0.0.0.0" else listen_ip
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                self._log.close()
                raise RuntimeError(f"supernode exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                wait_port(self.port, host=host, timeout=0.5)
                wait_port(self.download_port, host=host, timeout=0.5)
                break
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise

    def log_tail(self, lines: int = 20) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    @property
    def node(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def api(self) -> str:
        return f"http://{self.ip}:{self.port}"

    def metrics(self) -> dict[str, float]:
        """Parse the Prometheus text exposition into {'name{labels}': value}."""
        text = requests.get(self.api + "/metrics", timeout=5).text
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out

    def metric(self, name: str, **labels) -> float:
        total = 0.0
        for key, value in self.metrics().items():
            base, _, rest = key.partition("{")
            if base != name:
                continue
            if all(f'{k}="{v}"' in rest for k, v in labels.items()):
                total += value
        return total

    def peers(self) -> list[dict]:
        return requests.get(self.api + "/api/v1/peers", timeout=5).json()

    def healthy(self) -> bool:
        try:
            return requests.get(self.api + "/_ping", timeout=5).text.strip() == "OK"
        except requests.RequestException:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def dfget_argv(url: str, output: str, home: str, nodes=(), extra=()) -> list[str]:
    argv = [script("dfget"), "-u", url, "-o", output, "--home", home, "--alivetime", "60s", "--expiretime", "60s"]
    for n in nodes:
        argv += ["--node", n]
    return argv + list(extra)


def run_dfget(url, output, home, nodes=(), extra=(), timeout=300):
    return subprocess.run(dfget_argv(url, output, home, nodes, extra), capture_output=True, text=True, timeout=timeout)


def start_dfget(url, output, home, nodes=(), extra=()):
    return subprocess.Popen(dfget_argv(url, output, home, nodes, extra), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def upload_server_port(home: str) -> int:
    try:
        with open(os.path.join(home, "meta", "host.meta")) as f:
            return int(json.load(f).get("servicePort", 0))
    except (OSError, ValueError):
        return 0


def upload_server_pids(home: str) -> list[int]:
    """PIDs of `dfget server` processes (python -m dfdaemon.upload) serving this work home or one below it."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "dfdaemon.upload" in argv and "--home" in argv:
            i = argv.index("--home")
            served, root = os.path.abspath(argv[i + 1]) if i + 1 < len(argv) else "", os.path.abspath(home)
            if served == root or served.startswith(root + os.sep):
                pids.append(int(entry))
    return pids


def kill_upload_server(home: str, sig=signal.SIGKILL) -> int:
    pids = upload_server_pids(home)
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    return len(pids)


def stop_upload_servers(*homes: str) -> None:
    """Stop the detached `dfget server` children that dfget runs spawned for these homes (or homes below them)."""
    for home in homes:
        kill_upload_server(home, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(upload_server_pids(h) for h in homes):
        time.sleep(0.1)
    for home in homes:
        kill_upload_server(home, signal.SIGKILL)
