"""The real processes of a distribution benchmark, started inside emulated hosts (:mod:`bench.hosts`):
docker-registry, supernode, dfdaemon, skopeo/dfget pulls, plus the measurements taken around them
(registry access log bytes per blob, CPU time per host and process)."""
from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import defaultdict

import yaml

from bench.hosts import Lab, LabError
from tests.helpers import script

REGISTRY_PORT = 5000
SN_PORT, SN_DOWNLOAD_PORT = 8002, 8001
MIRROR_PORT = 65001
SN_FLAGS = ("--max-bandwidth", "4G", "--system-bandwidth", "1M", "--log-level", "WARNING")   # every supernode's
_ACCESS = re.compile(r'"(?P<method>GET|HEAD) (?P<path>/v2/\S+/blobs/(?P<digest>sha256:[0-9a-f]{64}))\S* HTTP/[\d.]+" '
                     r'(?P<status>\d{3}) (?P<bytes>\d+)')


def start_registry(lab: Lab, host: str, workdir: str):
    """docker-registry (filesystem storage under ``workdir/data``, kept between labs) on ``<ip>:5000``."""
    os.makedirs(workdir, exist_ok=True)
    ip = lab.ip(host)
    cfg = {"version": 0.1, "log": {"level": "warn", "accesslog": {"disabled": False}},
           "storage": {"filesystem": {"rootdirectory": os.path.join(workdir, "data")},
                       "delete": {"enabled": True}, "cache": {"blobdescriptor": "inmemory"}},
           "http": {"addr": f"{ip}:{REGISTRY_PORT}", "secret": "bench-secret"}}
    path = os.path.join(workdir, "config.yml")
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    proc = lab.popen(host, ["docker-registry", "serve", path], name="registry")
    lab.wait_tcp(host, ip, REGISTRY_PORT, proc=proc)
    return proc


def registry_blob_bytes(lab: Lab, proc) -> dict[str, int]:
    """Body bytes the registry sent per blob digest (GET 200/206), from its access log."""
    out: dict[str, int] = defaultdict(int)
    path = getattr(proc, "lab_log", None)
    if not path or not os.path.exists(path):
        return {}
    with open(path, errors="replace") as f:
        for line in f:
            m = _ACCESS.search(line)
            if m and m.group("method") == "GET" and m.group("status") in ("200", "206"):
                out[m.group("digest")] += int(m.group("bytes"))
    return dict(out)


def _policy(workdir: str) -> str:
    """An accept-anything signature policy, written once per directory (concurrent skopeo runs read it)."""
    path = os.path.join(workdir, "policy.json")
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump({"default": [{"type": "insecureAcceptAnything"}]}, f)
        os.replace(tmp, path)
    return path


def push_image(lab: Lab, host: str, oci_ref: str, dest_repo: str, workdir: str) -> str:
    """Push an OCI layout to the registry in ``host`` with skopeo run inside that host (no shaping on lo)."""
    dest = f"docker://{lab.ip(host)}:{REGISTRY_PORT}/{dest_repo}"
    home = os.path.join(workdir, "push-home")
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ, HOME=home, XDG_RUNTIME_DIR=home)
    lab.run(host, ["skopeo", "--policy", _policy(workdir), "copy", "--dest-tls-verify=false", oci_ref, dest],
            env=env, check=True, timeout=600)
    return dest


def start_supernode(lab: Lab, host: str, home: str, extra=()):
    ip = lab.ip(host)
    argv = [script("supernode"), "--home-dir", home, "--port", str(SN_PORT), "--download-port",
            str(SN_DOWNLOAD_PORT), "--listen-ip", ip, "--advertise-ip", ip, *SN_FLAGS, *extra]
    proc = lab.popen(host, argv, name="supernode")
    lab.wait_tcp(host, ip, SN_PORT, proc=proc)
    return proc


def start_dfdaemon(lab: Lab, host: str, home: str, sn_host: str, registry_host: str):
    ip = lab.ip(host)
    argv = [script("dfdaemon"), "--port", str(MIRROR_PORT), "--hostIp", ip, "--allowed-clients", f"{ip}/32",
            "--workHome", home,
            "--node", f"{lab.ip(sn_host)}:{SN_PORT}", "--registry", f"http://{lab.ip(registry_host)}:{REGISTRY_PORT}",
            "--ratelimit", "0", "--log-level", "WARNING"]
    proc = lab.popen(host, argv, name="dfdaemon")
    lab.wait_tcp(host, ip, MIRROR_PORT, proc=proc)
    return proc


def skopeo_home(lab: Lab, host: str, workdir: str, registry_host: str, mirror: bool) -> str:
    """A HOME whose registries.conf sends pulls of the origin registry through this host's mirror (or not)."""
    home = os.path.join(workdir, f"skopeo-{host}-{'mirror' if mirror else 'direct'}")
    conf_dir = os.path.join(home, ".config", "containers")
    os.makedirs(conf_dir, exist_ok=True)
    reg = f"{lab.ip(registry_host)}:{REGISTRY_PORT}"
    text = f'unqualified-search-registries = []\n[[registry]]\nprefix = "{reg}"\nlocation = "{reg}"\ninsecure = true\n'
    if mirror:
        text += f'[[registry.mirror]]\nlocation = "{lab.ip(host)}:{MIRROR_PORT}"\ninsecure = true\n'
    with open(os.path.join(conf_dir, "registries.conf"), "w") as f:
        f.write(text)
    return home


def skopeo_pull_argv(lab: Lab, registry_host: str, repo: str, dest_dir: str, workdir: str,
                     dest: str = "oci") -> list[str]:
    """skopeo copying ``repo`` into ``dest_dir``: ``oci`` (an OCI layout; skopeo copies the layers concurrently,
    as docker, containerd and podman pull) or ``dir`` (one layer after the other)."""
    if dest not in ("oci", "dir"):
        raise ValueError(f"skopeo destination must be oci or dir, not {dest!r}")
    src = f"docker://{lab.ip(registry_host)}:{REGISTRY_PORT}/{repo}"
    return ["skopeo", "--policy", _policy(workdir), "copy", "--src-tls-verify=false", "--retry-times", "0",
            src, f"{dest}:{dest_dir}"]


def skopeo_blob_path(dest_dir: str, dest: str, digest: str) -> str:
    """Where skopeo put the blob ``digest`` in ``dest_dir`` for destination ``dest`` (see skopeo_pull_argv)."""
    algo, hexdigest = digest.split(":", 1)
    return os.path.join(dest_dir, "blobs", algo, hexdigest) if dest == "oci" else os.path.join(dest_dir, hexdigest)


def dfget_argv(lab: Lab, host: str, url: str, out: str, home: str, sn_host: str | None,
               nodes: str | None = None) -> list[str]:
    """dfget in ``host`` on the supernode in ``sn_host``, or on the ``--node`` list ``nodes`` (cluster members)."""
    return [script("dfget"), "-u", url, "-o", out, "--home", home, "--node", nodes or f"{lab.ip(sn_host)}:{SN_PORT}",
            "--ip", lab.ip(host), "--locallimit", "0", "--notbs", "--alivetime", "60s", "--expiretime", "60s"]


def wait_all(lab: Lab, procs: dict, start: float, timeout: float = 1800) -> dict[str, float]:
    """Wait for every process of ``{key: [Popen, ...]}``; return each key's finish time after ``start``.
    Raises LabError with the process output when one fails."""
    done: dict[str, float] = {}
    deadline = start + timeout
    while len(done) < len(procs):
        if time.monotonic() > deadline:
            raise LabError(f"pulls did not finish within {timeout}s: {sorted(set(procs) - set(done))}")
        for key, plist in procs.items():
            if key in done:
                continue
            if all(p.poll() is not None for p in plist):
                for p in plist:
                    if p.returncode != 0:
                        raise LabError(f"pull on {key} failed ({p.returncode}): {lab.output(p)}")
                done[key] = time.monotonic() - start
        time.sleep(0.02)
    return done


def summarize_timeline(timeline: list, hosts: list[str], size: int) -> dict:
    """Compact form of a CpuSampler timeline: per-interval rates in Mbit/s as space-separated strings (origin
    and supernode tx/rx, hosts' summed tx/rx) and when the origin had sent 99% of ``size`` bytes."""
    cols = {k: [] for k in ("t_s", "origin_tx", "sn_tx", "sn_rx", "hosts_tx", "hosts_rx")}
    origin_done = None
    base = timeline[0].get("origin", [0, 0])[0] if timeline else 0
    for prev, cur in zip(timeline, timeline[1:]):
        dt = cur["t"] - prev["t"]
        if dt <= 0.2:
            continue
        rate = lambda h, i: ((cur[h][i] - prev[h][i]) * 8 / dt / 1e6) if h in cur and h in prev else 0.0  # noqa
        cols["t_s"].append(f"{cur['t']:.1f}")
        for key, host, i in (("origin_tx", "origin", 0), ("sn_tx", "sn", 0), ("sn_rx", "sn", 1)):
            cols[key].append(f"{rate(host, i):.0f}")
        cols["hosts_tx"].append(f"{sum(rate(h, 0) for h in hosts):.0f}")
        cols["hosts_rx"].append(f"{sum(rate(h, 1) for h in hosts):.0f}")
        if origin_done is None and "origin" in cur and cur["origin"][0] - base >= 0.99 * size:
            origin_done = cur["t"]
    out = {k: " ".join(v) for k, v in cols.items()}
    out["origin_done_s"] = origin_done
    moving = [float(t) for t, rx in zip(cols["t_s"], cols["hosts_rx"]) if float(rx) > 1.0]
    out["hosts_rx_done_s"] = moving[-1] if moving else None
    return out


def _run_queue_wait_ns(pid: int) -> int:
    """Nanoseconds the process's main thread has spent runnable but waiting for a core (schedstat field 2)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[1])
    except (OSError, IndexError, ValueError):
        return 0


class CpuSampler:
    """Samples CPU time (utime+stime) of every process in the lab's namespaces once a second, keeping each
    process's last reading; ``result()`` gives CPU seconds per host and per (host, command), the seconds each
    (host, command)'s main thread waited on the run queue (runnable, no core free), the machine's
    busy share over the run (from /proc/stat), and a timeline of each host's eth0 byte counters (read from
    ``/proc/<pid>/net/dev`` of a process in that namespace, so no command is spawned)."""

    def __init__(self, lab: Lab, interval: float = 1.0):
        self.lab = lab
        self.interval = interval
        self._ns = {}
        for name, h in lab.hosts.items():
            try:
                self._ns[os.stat(h.netns_path).st_ino] = name
            except OSError:
                pass
        self._last: dict[int, tuple[str, str, int]] = {}
        self._probe: dict[str, int] = {}
        self.timeline: list = []
        self._base: dict[int, int] = {}
        self._last_wait: dict[int, int] = {}       # pid -> ns its main thread spent runnable but not running
        self._base_wait: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cpu-sampler", daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")
        self._t0 = self._t1 = None

    @staticmethod
    def _machine() -> tuple[int, int]:
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:]]
        idle = vals[3] + vals[4]
        return sum(vals) - idle, sum(vals)

    def _scan(self, first: bool = False) -> None:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                link = os.readlink(f"/proc/{pid}/ns/net")
                host = self._ns.get(int(link[link.index("[") + 1:-1]))
                if host is None:
                    continue
                with open(f"/proc/{pid}/stat") as f:
                    raw = f.read()
            except (OSError, ValueError):
                continue
            comm = raw[raw.index("(") + 1:raw.rindex(")")]
            fields = raw[raw.rindex(")") + 2:].split()
            ticks = int(fields[11]) + int(fields[12])
            wait_ns = _run_queue_wait_ns(pid)
            if first:
                self._base[pid] = ticks
                self._base_wait[pid] = wait_ns
            self._last[pid] = (host, comm, ticks)
            self._last_wait[pid] = wait_ns
            self._probe[host] = pid
        self._sample_links()

    def _sample_links(self) -> None:
        point = {"t": round(time.monotonic() - self._t0[0], 2) if self._t0 else 0.0}
        for host, pid in list(self._probe.items()):
            try:
                with open(f"/proc/{pid}/net/dev") as f:
                    for line in f:
                        name, _, rest = line.partition(":")
                        if name.strip() == "eth0":
                            v = rest.split()
                            point[host] = [int(v[8]), int(v[0])]      # tx, rx bytes
            except OSError:
                self._probe.pop(host, None)
        self.timeline.append(point)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._scan()

    def __enter__(self) -> "CpuSampler":
        self._t0 = (time.monotonic(), self._machine())
        self._scan(first=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._scan()
        self._stop.set()
        self._thread.join(5)
        self._t1 = (time.monotonic(), self._machine())

    def result(self) -> dict:
        per_host: dict[str, float] = defaultdict(float)
        per_cmd: dict[str, float] = defaultdict(float)
        waits: dict[str, float] = defaultdict(float)
        for pid, (host, comm, ticks) in self._last.items():
            sec = (ticks - self._base.get(pid, 0)) / self._tick
            per_host[host] += sec
            per_cmd[f"{host}:{comm}"] += sec
            waits[f"{host}:{comm}"] += (self._last_wait.get(pid, 0) - self._base_wait.get(pid, 0)) / 1e9
        (w0, (b0, t0)), (w1, (b1, t1)) = self._t0, self._t1
        return {"wall_s": w1 - w0, "machine_busy": (b1 - b0) / max(1, t1 - t0),
                "per_host_s": dict(per_host), "per_process_s": dict(per_cmd),
                "run_queue_wait_s": {k: round(v, 3) for k, v in waits.items()}, "timeline": self.timeline}
