"""A loopback-only network namespace for runtime tests, and a way to run code inside it.

``Netns.create()`` makes ``/run/netns/<name>`` with only ``lo`` up (plus optional extra loopback
addresses), so a daemon started in it cannot reach anything outside the machine: dockerd's fallback
to Docker Hub fails at once instead of leaking a request.

``with ns.entered(): ...`` moves the calling thread into the namespace with ``setns(2)`` (the same
thing ``nsenter --net=/run/netns/<name>`` does: only the network namespace changes, /sys and the
cgroup mounts stay as they are, which dockerd needs). Sockets created and processes started inside
the block live in the namespace; the thread goes back to its own namespace when the block ends.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import subprocess
import uuid

log = logging.getLogger(__name__)

CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns failed: {os.strerror(err)}")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


class Netns:
    """One named network namespace; ``delete()`` removes it (safe to call twice)."""

    def __init__(self, name: str):
        self.name = name
        self.path = f"/run/netns/{name}"

    @classmethod
    def create(cls, prefix: str = "dfrt", extra_addrs=()) -> "Netns":
        ns = cls(f"{prefix}-{uuid.uuid4().hex[:8]}")
        _ip("netns", "add", ns.name)
        try:
            _ip("-n", ns.name, "link", "set", "lo", "up")
            for addr in extra_addrs:
                _ip("-n", ns.name, "addr", "add", addr, "dev", "lo")
        except subprocess.CalledProcessError:
            ns.delete()
            raise
        return ns

    @contextlib.contextmanager
    def entered(self):
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(self.path, os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield self
            finally:
                _setns(own)
        finally:
            os.close(target)
            os.close(own)

    def delete(self) -> None:
        if os.path.exists(self.path):
            try:
                _ip("netns", "del", self.name)
            except subprocess.CalledProcessError as e:
                log.warning("cannot delete netns name=%s error=%s", self.name, e.stderr.strip())
