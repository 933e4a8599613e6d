"""Low-level helpers of the host emulation (:mod:`bench.hosts`): requirement checks, shell calls, and finding
and removing the namespaces and links a run left behind."""
from __future__ import annotations

import ipaddress
import os
import re
import shutil
import signal
import subprocess

from bench.cpugroups import cleanup_stale_groups, group_names

TOOLS = ("ip", "tc", "nsenter")
DEFAULT_PREFIX = "dfb"
NETNS_DIR = "/run/netns"


class LabError(RuntimeError):
    """The host emulation cannot run here (not root, tools missing) or a set-up command failed."""


def missing_requirements() -> str | None:
    """Why a Lab cannot run on this machine, or None when it can."""
    if os.geteuid() != 0:
        return "emulated hosts need root (network namespaces, veth pairs and tc qdiscs)"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"emulated hosts need {', '.join(missing)} on PATH (iproute2 and util-linux)"
    return None


def run_cmd(argv: list[str], check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed ({res.returncode}): {res.stderr.strip() or res.stdout.strip()}")
    return res


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_netns_pids(ns: str) -> None:
    """SIGKILL every process left in namespace ``ns`` (detached children included)."""
    res = run_cmd(["ip", "netns", "pids", ns], check=False)
    for tok in res.stdout.split():
        if tok.isdigit() and int(tok) != os.getpid():
            try:
                os.kill(int(tok), signal.SIGKILL)
            except ProcessLookupError:
                pass


def lab_names(prefix: str) -> tuple[list[str], list[str]]:
    """Namespaces and root-namespace links whose names start with ``prefix``."""
    out = run_cmd(["ip", "netns", "list"], check=False).stdout
    namespaces = [line.split()[0] for line in out.splitlines() if line.strip() and line.split()[0].startswith(prefix)]
    links = []
    for line in run_cmd(["ip", "-o", "link", "show"], check=False).stdout.splitlines():
        m = re.match(r"^\d+:\s+([^:@\s]+)", line)
        if m and m.group(1).startswith(prefix):
            links.append(m.group(1))
    return namespaces, links


def leftovers(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Names of namespaces, root links and CPU groups with ``prefix`` that still exist."""
    namespaces, links = lab_names(prefix)
    return namespaces + links + [os.path.basename(p) for p in group_names(prefix)]


def cleanup_stale(prefix: str = DEFAULT_PREFIX, force: bool = False) -> list[str]:
    """Remove namespaces, links and CPU groups left by killed runs with ``prefix``; return what was removed.

    Names carry the creating process id (``<prefix><pid>-...``): objects of a run that is still alive are kept
    unless ``force`` is set, so parallel runs do not clobber each other.
    """
    removed = []
    namespaces, links = lab_names(prefix)
    pat = re.compile(re.escape(prefix) + r"(\d+)")
    for name in namespaces + links:
        m = pat.match(name)
        if not force and m and pid_alive(int(m.group(1))) and int(m.group(1)) != os.getpid():
            continue
        if name in namespaces:
            kill_netns_pids(name)
            run_cmd(["ip", "netns", "del", name], check=False)
        else:
            run_cmd(["ip", "link", "del", name], check=False)
        removed.append(name)
    removed += cleanup_stale_groups(prefix, alive=lambda pid: not force and pid_alive(pid))
    return removed


def pick_subnet(pid: int) -> ipaddress.IPv4Network:
    """A /24 in 10.231-10.238.x.0 that no root-namespace address or route uses yet."""
    used = run_cmd(["ip", "-o", "-4", "addr", "show"], check=False).stdout + run_cmd(["ip", "-4", "route"], check=False).stdout
    for k in range(2048):
        n = (pid + k) % 2048
        net = ipaddress.ip_network(f"10.{231 + n // 256}.{n % 256}.0/24")
        if f"10.{231 + n // 256}.{n % 256}." not in used:
            return net
    raise LabError("no free 10.231-238.x.0/24 subnet for the emulated hosts")
