"""Real ``python -m dfdaemon.upload`` processes; each test gets its own work home and any
server still running under it is terminated at the end."""
from __future__ import annotations

import os
import signal
import time

import pytest

from tests.unit.dfdaemon.upload.conftest import SupernodeStandIn, ThreadedServer


def pids_under(home: str) -> list[int]:
    """Pids of the upload servers whose command line names ``home`` (unique per test)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if b"dfdaemon.upload" in args and home.encode() in args:
            found.append(int(entry))
    return found


def wait_for(predicate, timeout=30.0, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


@pytest.fixture
def home(tmp_path):
    path = str(tmp_path / "home")
    yield path
    for pid in pids_under(path):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    wait_for(lambda: not pids_under(path), timeout=10)


@pytest.fixture
def supernode():
    standin = SupernodeStandIn()
    with ThreadedServer(standin) as srv:
        srv.standin = standin
        yield srv
