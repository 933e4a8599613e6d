"""offload/cooperate: inline without gevent; under gevent's monkey patching the step runs in another
native thread while the hub keeps running other greenlets (checked in a real patched process)."""
from __future__ import annotations

import subprocess
import sys
import threading

from dfcommon.offload import cooperate, gevent_patched, offload

PATCHED = r"""
from gevent import monkey; monkey.patch_all()
import time, gevent
from gevent.monkey import get_original
from dfcommon.offload import offload, cooperate, gevent_patched
native_ident = get_original("threading", "get_ident")
real_sleep = get_original("time", "sleep")
ticks = []
def ticker():
    for _ in range(20):
        ticks.append(1)
        gevent.sleep(0.01)
g = gevent.spawn(ticker)
gevent.sleep(0)
here = native_ident()
def work():
    real_sleep(0.3)            # blocks its own OS thread only
    return native_ident()
there = offload(work)
print(gevent_patched(), there != here, len(ticks) >= 10)
"""


def test_inline_without_gevent():
    assert not gevent_patched()
    assert offload(lambda a, b: (a + b, threading.get_ident()), 2, 3) == (5, threading.get_ident())
    cooperate()


def test_native_thread_under_gevent():
    out = subprocess.run([sys.executable, "-c", PATCHED], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "True"]
