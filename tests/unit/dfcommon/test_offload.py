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


ORDERED = r"""
from gevent import monkey; monkey.patch_all()
import time, gevent
from gevent.monkey import get_original
from dfcommon.offload import OrderedOffload
real_sleep = get_original("time", "sleep")
native_ident = get_original("threading", "get_ident")
here = native_ident()
done, threads, thens = [], set(), []
def step(i):
    real_sleep(0.02)                    # blocks the pipeline's thread only
    done.append(i)
    threads.add(native_ident())
    return i * 10
pipe = OrderedOffload(depth=3)
for i in range(10):
    pipe.submit(step, i, then=thens.append)
ahead = len(done)                       # the caller went on while up to 3 steps were pending
pipe.drain()
print(done == list(range(10)), thens == [i * 10 for i in range(10)], here not in threads, len(threads) == 1,
      7 <= ahead < 10)
# then runs as soon as its step is done, without another submit or drain
seen = []
pipe.submit(lambda: real_sleep(0.05) or "x", then=seen.append)
gevent.sleep(0.3)
print(seen == ["x"])
# a failure is raised by the next call, later thens are skipped, and close() still waits quietly
def boom():
    raise ValueError("bad block")
pipe.submit(boom)
pipe.submit(step, 99, then=thens.append)
try:
    pipe.drain()
    print("no error")
except ValueError as e:
    print(str(e) == "bad block", 990 not in thens, 99 in done)
pipe.close()
print("closed")
"""


def test_ordered_offload_inline_without_gevent():
    from dfcommon.offload import OrderedOffload
    pipe, got = OrderedOffload(depth=2), []
    for i in range(5):
        pipe.submit(lambda x: (x, threading.get_ident()), i, then=got.append)
    pipe.drain()
    assert got == [(i, threading.get_ident()) for i in range(5)]
    pipe.submit(lambda: 1)
    try:
        pipe.submit(lambda: 1 / 0)
    except ZeroDivisionError:
        pass
    else:
        raise AssertionError("an inline step's error reaches the caller")
    pipe.close()


def test_ordered_offload_under_gevent():
    out = subprocess.run([sys.executable, "-c", ORDERED], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:4] == ["True True True True True", "True", "True True True", "closed"], out.stdout
