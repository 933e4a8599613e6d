"""One CPU group per emulated host, so that hosts share the machine's cores as hosts, not as threads.

Without them the kernel shares the cores between runnable threads (between sessions, with autogroup): eight
emulated hosts each running a dfdaemon (a hub and its hashing threads) and a pull client (skopeo runs several
Go threads) outnumber the supernode's one busy thread, and under load the supernode waits on the run queue
(``/proc/<pid>/schedstat``: at N = 8 its main thread ran 0.1-0.17 s and waited 0.5-0.97 s per second near the
end of a pull). A group per host with equal weights gives every emulated host an equal share of the cores
when they are contended (the way Mininet's CPU-limited hosts do), and no limit when they are not.

Measured, it does not pay here: at N = 8 (one 256 MiB layer, three runs each) the last host took 1.21-1.23 x
T_min with groups and 1.18-1.19 x without, and the supernode's hub waited for a core 36% of the run with groups
against 26% without (group scheduling splits a group's weight across the cores and adds a level to every
wake-up). So :class:`bench.hosts.Lab` leaves groups off unless asked (``cpu_groups=True``;
``bench.distribution --cpu-groups``); they stay useful to check how much a result depends on the kernel's
sharing.

Works with cgroup v1 (the ``cpu`` controller, ``cpu.shares``) and v2 (``cpu.weight``). Groups are named
``<lab tag>-<host>`` under the controller's root; a process joins its host's group before it execs
(:meth:`CpuGroups.wrap`), and its children inherit it. :func:`cleanup_stale_groups` removes groups a killed run
left behind.
"""
from __future__ import annotations

import os
import re
import signal
import time

V1_ROOT = "/sys/fs/cgroup/cpu"
V2_ROOT = "/sys/fs/cgroup"


def _v2_has_cpu(root: str) -> bool:
    try:
        with open(os.path.join(root, "cgroup.controllers")) as f:
            return "cpu" in f.read().split()
    except OSError:
        return False


def find_root() -> tuple[str, int] | None:
    """(controller root, cgroup version) where groups with a CPU weight can be made, or None."""
    if os.path.exists(os.path.join(V1_ROOT, "cpu.shares")) or os.path.exists(os.path.join(V1_ROOT, "tasks")):
        return V1_ROOT, 1
    if _v2_has_cpu(V2_ROOT):
        return V2_ROOT, 2
    return None


class CpuGroups:
    """The CPU groups of one lab. ``root=None`` finds the controller; ``enabled=False`` makes every call a no-op."""

    def __init__(self, tag: str, enabled: bool = True, root: tuple[str, int] | None = None):
        self.tag = tag
        found = root or (find_root() if enabled else None)
        self.root, self.version = found if found else (None, 0)
        self.why_off = "" if found else ("turned off" if not enabled else
                                         "no cgroup cpu controller (v1 /sys/fs/cgroup/cpu or v2 with cpu)")
        self.paths: dict[str, str] = {}

    @property
    def active(self) -> bool:
        return self.root is not None

    def create(self, host: str) -> str | None:
        """Make ``host``'s group with the default weight; None when groups are off or the kernel refuses."""
        if not self.active:
            return None
        if self.version == 2:
            _enable_cpu_controller(self.root)
        path = os.path.join(self.root, f"{self.tag}-{host}")
        try:
            os.makedirs(path, exist_ok=True)
            if self.version == 1:
                _write(os.path.join(path, "cpu.shares"), "1024")
            else:
                _write(os.path.join(path, "cpu.weight"), "100")
        except OSError as e:
            self.root, self.why_off = None, f"cannot make a cpu cgroup: {e}"
            return None
        self.paths[host] = path
        return path

    def wrap(self, host: str, argv: list[str]) -> list[str]:
        """``argv`` run by a shell that first moves itself into ``host``'s group (children inherit it)."""
        path = self.paths.get(host)
        if not path:
            return argv
        procs = os.path.join(path, "cgroup.procs")
        return ["sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh", *argv]

    def pids(self, host: str) -> list[int]:
        path = self.paths.get(host)
        return _pids(path) if path else []

    def remove_all(self) -> None:
        for path in list(self.paths.values()):
            _remove_group(path)
        self.paths.clear()


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _enable_cpu_controller(root: str) -> None:
    try:
        with open(os.path.join(root, "cgroup.subtree_control")) as f:
            if "cpu" in f.read().split():
                return
        _write(os.path.join(root, "cgroup.subtree_control"), "+cpu")
    except OSError:
        pass                         # create() then fails to set the weight and turns groups off


def _pids(path: str) -> list[int]:
    try:
        with open(os.path.join(path, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _remove_group(path: str, timeout: float = 5.0) -> bool:
    """Kill what is left in the group, then remove it (a group can only go once empty)."""
    deadline = time.monotonic() + timeout
    while True:
        for pid in _pids(path):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.rmdir(path)
            return True
        except FileNotFoundError:
            return True
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


def group_names(prefix: str) -> list[str]:
    """Paths of CPU groups whose names start with ``prefix``."""
    found = find_root()
    if not found:
        return []
    root = found[0]
    try:
        return [os.path.join(root, n) for n in sorted(os.listdir(root))
                if n.startswith(prefix) and os.path.isdir(os.path.join(root, n))]
    except OSError:
        return []


def cleanup_stale_groups(prefix: str, alive) -> list[str]:
    """Remove groups named ``<prefix><pid>-...`` whose creating process ``pid`` is gone (``alive(pid)`` false)."""
    removed = []
    pat = re.compile(re.escape(prefix) + r"(\d+)-")
    for path in group_names(prefix):
        m = pat.match(os.path.basename(path))
        if m and alive(int(m.group(1))) and int(m.group(1)) != os.getpid():
            continue
        if _remove_group(path):
            removed.append(os.path.basename(path))
    return removed
