"""``py-spy record`` around a block of a benchmark, summarised as shares of the on-CPU samples.

Samples are grouped by leaf frame and by the innermost project module on the stack (what our code
was doing, or the library call it made); gevent pool workers waiting for work are left out.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time


class Profiler:
    """``py-spy record`` on one process for the duration of a ``with`` block (raw collapsed stacks)."""

    def __init__(self, pid: int, out: str, enabled: bool):
        self.exe = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
        self.pid, self.out, self.enabled = pid, out, enabled and os.path.exists(self.exe)
        self.proc = None

    def __enter__(self):
        if self.enabled:
            self.proc = subprocess.Popen([self.exe, "record", "-p", str(self.pid), "-r", "200", "-f", "raw",
                                          "-o", self.out], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)         # let it attach
        return self

    def __exit__(self, *exc):
        if self.proc is not None:
            self.proc.send_signal(2)
            self.proc.wait(30)

    def summary(self, top: int = 8) -> dict:
        """Shares of the on-CPU samples: by hottest leaf frame, and by the innermost project module on
        the stack (what our code was doing, or a library call it made). Idle pool workers are left out."""
        if not self.enabled or not os.path.exists(self.out):
            return {}
        leaf, module, total = {}, {}, 0
        with open(self.out) as f:
            for line in f:
                stack, _, count = line.rstrip().rpartition(" ")
                frames = stack.split(";")
                if not count.isdigit() or IDLE in frames[-1]:
                    continue
                n = int(count)
                total += n
                name = _short(frames[-1])
                leaf[name] = leaf.get(name, 0) + n
                own = next((_module(fr) for fr in reversed(frames) if _module(fr)), "gevent hub / server")
                module[own] = module.get(own, 0) + n

        def top_of(d):
            return [[k, round(v / total, 3)] for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:top]]
        groups = {}
        for mod, n in module.items():
            g = next((g for g, prefixes in GROUPS if mod.startswith(prefixes)), "hub, WSGI server, other")
            groups[g] = round(groups.get(g, 0.0) + n / total, 3)
        return {"samples": total, "leaf": top_of(leaf), "module": top_of(module), "groups": groups} if total else {}


IDLE = "acquire_with_timeout"        # a gevent pool worker waiting for work
GROUPS = [("P2P downloader", ("dfdaemon/p2p/", "dfcommon/http.py")),
          ("mirror blob path", ("dfdaemon/mirror/", "dfcommon/digest.py")),
          ("upload server", ("dfdaemon/upload/",))]


def _where(frame: str) -> str:
    return frame.partition(" (")[2].rstrip(")").rsplit(":", 1)[0]


def _module(frame: str) -> str | None:
    """'dfdaemon/mirror/cache.py' for a frame in the project's packages, else None."""
    parts = _where(frame).split("/")
    for i, part in enumerate(parts[:-1]):
        if part in ("dfdaemon", "dfcommon"):
            return "/".join(parts[i:])
    return None


def _short(frame: str) -> str:
    """'func (path/to/pkg/mod.py:123)' -> 'func (pkg/mod.py)'."""
    name, path = frame.partition(" (")[0], _where(frame)
    return f"{name} ({'/'.join(path.split('/')[-2:])})" if path else name
