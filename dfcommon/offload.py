"""Run CPU- or disk-bound steps off the gevent hub, and let a busy greenlet give the hub a turn.

Under gevent every greenlet shares one OS thread: an md5 of a 4 MiB piece or a 4 MiB ``pwrite``
stalls every request the process serves, and a reader whose socket always has data never
yields at all. :func:`offload` runs such a step in the hub's pool of native threads (hashlib
and ``os.pwrite`` release the GIL, so the work uses another core while the hub keeps serving)
and :func:`cooperate` yields to other greenlets. Without gevent's monkey patching both are
plain: the step runs in the calling thread, which is already a real thread.
"""
from __future__ import annotations

import sys
import time


def gevent_patched() -> bool:
    """True when gevent has patched ``threading`` (the caller then runs in a greenlet)."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("threading")


def offload(fn, *args):
    """``fn(*args)`` in a native thread when running under gevent, else right here; returns its result.

    ``fn`` must not touch gevent objects (locks, sockets, events): pure computation and file I/O only.
    """
    if gevent_patched():
        import gevent
        ok, value = gevent.get_hub().threadpool.apply(_capture, (fn, args))
        if not ok:
            raise value          # re-raised here, in the caller (the pool would also print it as an error)
        return value
    return fn(*args)


def _capture(fn, args):
    try:
        return True, fn(*args)
    except Exception as e:      # noqa: BLE001 - handed back to the caller as is
        return False, e


def cooperate() -> None:
    """Let other greenlets run (gevent's patched ``time.sleep(0)``); a no-op cost otherwise."""
    if gevent_patched():
        time.sleep(0)
