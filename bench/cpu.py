"""CPU seconds per process for the benchmarks: live processes from /proc, finished children from wait4."""
from __future__ import annotations

import os
import resource
import subprocess

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu(pid: int) -> float:
    """user + system CPU seconds of a live process (0.0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def self_cpu() -> float:
    """CPU seconds of this process (the benchmark driver and the origin threads it runs)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def reap(proc: subprocess.Popen) -> float | None:
    """Reap ``proc`` if it has exited; return its CPU seconds then, else None (still running)."""
    pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
    if pid == 0:
        return None
    proc.returncode = os.waitstatus_to_exitcode(status)
    return ru.ru_utime + ru.ru_stime
