"""Emulated hosts: network namespaces on one bridge, each with its own address and an egress bandwidth limit.

    with Lab([HostSpec("origin", up="100mbit"), HostSpec("h1", up="100mbit")]) as lab:
        lab.popen("origin", ["docker-registry", "serve", cfg], name="registry")
        lab.run("h1", ["curl", "-sf", f"http://{lab.ip('origin')}:5000/v2/"])

Layout: a bridge ``br0`` lives in a namespace of its own (``<prefix><pid>-br``); every host namespace
(``<prefix><pid>-<name>``) has an ``eth0`` whose peer sits on that bridge. Upload limits are a ``tbf`` qdisc on
the host's ``eth0`` (egress), download limits a ``tbf`` on the bridge-side port (egress towards the host): the
kernel here has no netem and no ingress policing. Optionally the root namespace joins the bridge too
(``root_link``), so the driver can read metrics without entering a namespace; traffic between hosts never
passes through it.

Processes run inside a host with ``nsenter --net=/run/netns/<ns>`` (``ip netns exec`` would remount /sys), and
with ``cpu_groups=True`` in the host's CPU group (:mod:`bench.cpugroups`): when the cores are contended every
emulated host then gets an equal share of them instead of every thread (off by default: see that module).
Everything is removed on context exit, at interpreter exit, on SIGINT/SIGTERM, and ``cleanup_stale(prefix)``
removes what a killed run left behind.
"""
from __future__ import annotations

import atexit
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

from bench.cpugroups import CpuGroups
from bench.netns import (DEFAULT_PREFIX, NETNS_DIR, LabError, cleanup_stale, kill_netns_pids, lab_names, leftovers,
                         missing_requirements, pick_subnet, run_cmd)

@dataclass
class HostSpec:
    """One emulated host. ``up``/``down`` are tc rates such as ``100mbit`` (None: unlimited). ``nice`` (-20..19)
    is the CPU priority of everything started in it with :meth:`Lab.popen`: a negative value stands for a host
    with CPUs of its own (the origin, the supernode), whose processes the other hosts' work should not starve."""
    name: str
    up: str | None = None
    down: str | None = None
    nice: int = 0


@dataclass
class Host:
    name: str
    ns: str
    ip: str
    index: int
    up: str | None
    down: str | None
    procs: list = field(default_factory=list)
    nice: int = 0

    @property
    def netns_path(self) -> str:
        return os.path.join(NETNS_DIR, self.ns)


def set_autogroup_nice(pid: int, nice: int) -> bool:
    """Give the session of ``pid`` (its own: :meth:`Lab.popen` starts a new one) the CPU priority ``nice``.

    With the kernel's autogroup scheduling (``kernel.sched_autogroup_enabled``) the cores are shared between
    sessions first, and a process's own nice value only counts within its session: the session's nice is what
    gives it more of the machine. False where there is no autogroup (then the process's nice is what counts)."""
    try:
        with open(f"/proc/{pid}/autogroup", "w") as f:
            f.write(str(nice))
        return True
    except OSError:
        return False


class Lab:
    """N emulated hosts joined by a bridge. Use as a context manager; see the module docstring."""

    def __init__(self, hosts, subnet: str | None = None, prefix: str = DEFAULT_PREFIX, workdir: str | None = None,
                 root_link: bool = True, burst: str = "256kb", latency: str = "50ms", cpu_groups: bool = False):
        specs = [h if isinstance(h, HostSpec) else HostSpec(h) for h in hosts]
        names = [s.name for s in specs]
        if len(set(names)) != len(names) or any(not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,30}", n) for n in names):
            raise ValueError(f"host names must be unique, lower-case letters/digits/-/_: {names}")
        if not re.fullmatch(r"[a-z][a-z0-9]{0,7}", prefix):
            raise ValueError("prefix must be 1-8 lower-case letters/digits starting with a letter")
        self.specs = specs
        self.prefix = prefix
        self.tag = f"{prefix}{os.getpid()}"
        self.subnet = ipaddress.ip_network(subnet) if subnet else None
        self.root_link = root_link
        self.burst, self.latency = burst, latency
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix=f"{self.tag}-")
        self.hosts: dict[str, Host] = {}
        self.bridge_ns = f"{self.tag}-br"
        self.root_ip: str | None = None
        self._lock = threading.Lock()
        self._started = False
        self._closed = False
        self._old_handlers: dict = {}
        self.cpu = CpuGroups(self.tag, enabled=cpu_groups)

    # ------------------------------------------------------------------ set-up
    def __enter__(self) -> "Lab":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> "Lab":
        why = missing_requirements()
        if why:
            raise LabError(why)
        self._started = True
        atexit.register(self.close)
        self._install_signal_handlers()
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def _build(self) -> None:
        subnet = self.subnet or pick_subnet(os.getpid())
        addrs = list(subnet.hosts())
        if len(addrs) < len(self.specs) + 1:
            raise LabError(f"subnet {subnet} is too small for {len(self.specs)} hosts")
        plen = subnet.prefixlen
        br = self.bridge_ns
        run_cmd(["ip", "netns", "add", br])
        run_cmd(["ip", "-n", br, "link", "set", "lo", "up"])
        run_cmd(["ip", "-n", br, "link", "add", "br0", "type", "bridge"])
        run_cmd(["ip", "-n", br, "link", "set", "br0", "up"])
        for i, spec in enumerate(self.specs):
            ns = f"{self.tag}-{spec.name}"
            host = Host(spec.name, ns, str(addrs[i]), i, spec.up, spec.down, nice=spec.nice)
            self.hosts[spec.name] = host
            port = f"p{i}"
            run_cmd(["ip", "netns", "add", ns])
            self.cpu.create(spec.name)
            run_cmd(["ip", "-n", br, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns])
            run_cmd(["ip", "-n", br, "link", "set", port, "master", "br0", "up"])
            run_cmd(["ip", "-n", ns, "addr", "add", f"{host.ip}/{plen}", "dev", "eth0"])
            run_cmd(["ip", "-n", ns, "link", "set", "eth0", "up"])
            run_cmd(["ip", "-n", ns, "link", "set", "lo", "up"])
            if spec.up:
                self._tbf(ns, "eth0", spec.up)
            if spec.down:
                self._tbf(br, port, spec.down)
        if self.root_link:
            root_if = f"{self.tag}r"
            self.root_ip = str(addrs[-1])
            run_cmd(["ip", "-n", br, "link", "add", "root", "type", "veth", "peer", "name", root_if, "netns", "1"])
            run_cmd(["ip", "-n", br, "link", "set", "root", "master", "br0", "up"])
            run_cmd(["ip", "addr", "add", f"{self.root_ip}/{plen}", "dev", root_if])
            run_cmd(["ip", "link", "set", root_if, "up"])

    def _tbf(self, ns: str, dev: str, rate: str) -> None:
        run_cmd(["tc", "-n", ns, "qdisc", "replace", "dev", dev, "root", "tbf", "rate", rate,
             "burst", self.burst, "latency", self.latency])

    # ------------------------------------------------------------------ lookup
    def host(self, name: str) -> Host:
        try:
            return self.hosts[name]
        except KeyError:
            raise LabError(f"no host named {name!r}; hosts: {sorted(self.hosts)}") from None

    def ip(self, name: str) -> str:
        return self.host(name).ip

    def log_path(self, host: str, name: str) -> str:
        os.makedirs(os.path.join(self.workdir, "logs"), exist_ok=True)
        return os.path.join(self.workdir, "logs", f"{host}-{name}.log")

    # ------------------------------------------------------------------ processes
    def nsenter(self, host: str, argv: list[str]) -> list[str]:
        """``argv`` inside ``host``: its network namespace and, when CPU groups are on, its CPU group."""
        return self.cpu.wrap(host, ["nsenter", f"--net={self.host(host).netns_path}", "--", *argv])

    def run(self, host: str, argv: list[str], timeout: float | None = 300, check: bool = False, env=None,
            cwd=None, input: str | None = None) -> subprocess.CompletedProcess:
        """Run ``argv`` inside ``host`` and collect its output (text)."""
        res = subprocess.run(self.nsenter(host, argv), capture_output=True, text=True, timeout=timeout, env=env,
                             cwd=cwd, input=input)
        if check and res.returncode != 0:
            raise LabError(f"[{host}] {' '.join(argv)} exited {res.returncode}: "
                           f"{(res.stderr or res.stdout).strip()[-2000:]}")
        return res

    def popen(self, host: str, argv: list[str], name: str | None = None, env=None, cwd=None,
              stdout=None) -> subprocess.Popen:
        """Start ``argv`` inside ``host`` in its own session; output goes to ``log_path(host, name)`` unless
        ``stdout`` is given. The process (group) is stopped by :meth:`stop` or at the latest on close."""
        name = name or os.path.basename(argv[0])
        log = None
        if stdout is None:
            log = open(self.log_path(host, name), "ab")
        nice = self.host(host).nice
        if nice:
            argv = ["nice", "-n", str(nice), *argv]
        proc = subprocess.Popen(self.nsenter(host, argv), stdout=stdout if stdout is not None else log,
                                stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
        if nice:
            set_autogroup_nice(proc.pid, nice)
        if log is not None:
            log.close()
        proc.lab_log = self.log_path(host, name) if stdout is None else None
        with self._lock:
            self.host(host).procs.append(proc)
        return proc

    @staticmethod
    def output(proc: subprocess.Popen, tail: int = 4000) -> str:
        path = getattr(proc, "lab_log", None)
        if not path:
            return ""
        try:
            with open(path, "rb") as f:
                return f.read()[-tail:].decode(errors="replace")
        except OSError:
            return ""

    @staticmethod
    def stop(proc: subprocess.Popen, timeout: float = 10) -> int | None:
        """SIGTERM the process group, then SIGKILL after ``timeout``; return the exit code."""
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)
        return proc.returncode

    def kill_all(self, host: str) -> None:
        """SIGKILL every process in ``host``'s namespace, detached ones included (e.g. spawned upload servers)."""
        kill_netns_pids(self.host(host).ns)
        for proc in self.host(host).procs:
            if proc.poll() is None:
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass

    def wait_tcp(self, host: str, ip: str, port: int, timeout: float = 20.0, proc=None) -> None:
        """Wait until ``ip:port`` accepts connections, seen from inside ``host``."""
        code = ("import socket,sys,time\nd=time.monotonic()+%f\nwhile time.monotonic()<d:\n"
                " try:\n  socket.create_connection((%r,%d),0.5).close();sys.exit(0)\n"
                " except OSError: time.sleep(0.05)\nsys.exit(1)\n") % (timeout, ip, port)
        res = self.run(host, [sys.executable, "-c", code], timeout=timeout + 10)
        if res.returncode != 0:
            extra = f": {self.output(proc)}" if proc is not None else ""
            raise LabError(f"nothing listening on {ip}:{port} (seen from {host}) after {timeout}s{extra}")

    # ------------------------------------------------------------------ statistics
    def qdisc_stats(self, host: str, direction: str = "up") -> dict:
        """Counters of the host's tbf: ``up`` (its eth0 egress) or ``down`` (the bridge port towards it).
        Keys: bytes, packets, dropped, overlimits, requeues (bytes include Ethernet/IP/TCP headers)."""
        h = self.host(host)
        ns, dev = (h.ns, "eth0") if direction == "up" else (self.bridge_ns, f"p{h.index}")
        text = run_cmd(["tc", "-s", "-n", ns, "qdisc", "show", "dev", dev]).stdout
        m = re.search(r"Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+) requeues (\d+)\)", text)
        if not m:
            return {"bytes": 0, "packets": 0, "dropped": 0, "overlimits": 0, "requeues": 0, "raw": text}
        keys = ("bytes", "packets", "dropped", "overlimits", "requeues")
        return {**{k: int(v) for k, v in zip(keys, m.groups())}, "raw": text.strip()}

    def link_bytes(self, host: str) -> dict:
        """Bytes the host's eth0 sent and received (kernel interface counters)."""
        info = json.loads(run_cmd(["ip", "-j", "-s", "-n", self.host(host).ns, "link", "show", "dev", "eth0"]).stdout)
        stats = info[0].get("stats64") or info[0].get("stats") or {}
        return {"tx_bytes": int(stats.get("tx", {}).get("bytes", 0)),
                "rx_bytes": int(stats.get("rx", {}).get("bytes", 0))}

    # ------------------------------------------------------------------ teardown
    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old_handlers[sig] = signal.getsignal(sig)
            signal.signal(sig, self._on_signal)

    def _restore_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, old in self._old_handlers.items():
            signal.signal(sig, old)
        self._old_handlers.clear()

    def _on_signal(self, signum, frame) -> None:
        old = self._old_handlers.get(signum)
        self.close()
        if callable(old):
            old(signum, frame)
        raise SystemExit(128 + signum)

    def close(self) -> None:
        """Stop every process and delete every namespace and link of this lab. Idempotent."""
        with self._lock:
            if self._closed or not self._started:
                return
            self._closed = True
        for host in self.hosts.values():
            for proc in reversed(host.procs):
                self.stop(proc, timeout=5)
        for ns in [h.ns for h in self.hosts.values()] + [self.bridge_ns]:
            if os.path.exists(os.path.join(NETNS_DIR, ns)):
                kill_netns_pids(ns)
        time.sleep(0.05)
        for ns in [h.ns for h in self.hosts.values()] + [self.bridge_ns]:
            if os.path.exists(os.path.join(NETNS_DIR, ns)):
                run_cmd(["ip", "netns", "del", ns], check=False)
        # hosts created before a failed step are not in self.hosts yet: sweep by tag as well
        namespaces, links = lab_names(self.tag)
        for name in namespaces:
            if name.startswith(self.tag + "-"):
                kill_netns_pids(name)
                run_cmd(["ip", "netns", "del", name], check=False)
        for name in links:
            if name == self.tag + "r":
                run_cmd(["ip", "link", "del", name], check=False)
        self.cpu.remove_all()
        atexit.unregister(self.close)
        self._restore_signal_handlers()
        if self._own_workdir and not os.environ.get("DF_LAB_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)


__all__ = ["Host", "HostSpec", "Lab", "LabError", "cleanup_stale", "leftovers", "missing_requirements",
           "set_autogroup_nice"]
