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


class OrderedOffload:
    """A pipeline of off-hub steps: run in one native thread in the order submitted, while the caller goes on.

    :func:`offload` makes the caller wait for every step, so a reader that hashes each block pays two thread
    hand-overs per block (to the worker, back to the hub) on its critical path; on a machine whose cores are
    contended each hand-over waits on the run queue, and the reader falls behind its socket. Here the caller
    submits a step and goes back to reading; it only waits when ``depth`` steps are pending (which bounds the
    memory the pending blocks hold). ``then(result)`` runs in a greenlet of the caller's hub as soon as the
    step is done, in submission order. A failed step (or ``then``) is raised by the next :meth:`submit` or by
    :meth:`drain`; the steps after it still run, their ``then`` does not.

    Without gevent's monkey patching every step and its ``then`` run at once in the caller (already a real
    thread). Steps must not touch gevent objects.
    """

    def __init__(self, depth: int = 4):
        self.depth = max(1, depth)
        self._error: BaseException | None = None
        self._pool = None
        if gevent_patched():
            import collections

            from gevent.event import Event
            from gevent.lock import Semaphore
            from gevent.threadpool import ThreadPool
            self._pool = ThreadPool(1)              # one thread: steps run in order
            self._pending = collections.deque()     # (async result, then), oldest first
            self._slots = Semaphore(self.depth)
            self._idle = Event()
            self._idle.set()
            self._collector = None

    def submit(self, fn, *args, then=None) -> None:
        self._raise_if_failed()
        if self._pool is None:
            result = fn(*args)
            if then is not None:
                then(result)
            return
        self._slots.acquire()
        self._idle.clear()
        self._pending.append((self._pool.spawn(_capture, fn, args), then))
        if self._collector is None or self._collector.dead:
            import gevent
            self._collector = gevent.spawn(self._collect)

    def drain(self) -> None:
        """Wait until every submitted step and its ``then`` are done; raises the first failure."""
        if self._pool is not None:
            self._idle.wait()
        self._raise_if_failed()

    def close(self) -> None:
        """Wait for the pending steps without raising (a failed run cleans up with this), then stop the thread."""
        if self._pool is not None:
            self._idle.wait()
            self._pool.kill()
            self._pool = None

    def _collect(self) -> None:
        while self._pending:
            result, then = self._pending[0]
            try:
                ok, value = result.get()
                if not ok:
                    raise value
                if then is not None and self._error is None:
                    then(value)
            except BaseException as e:      # noqa: BLE001 - handed to the submitter
                if self._error is None:
                    self._error = e
            finally:
                self._pending.popleft()
                self._slots.release()
        self._idle.set()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
