"""The piece server's pacer: reservations on a shared virtual clock, and a paced piece server over a real socket."""
from __future__ import annotations

import threading

import pytest
import requests
from gevent.pywsgi import WSGIServer

from dfcommon.wsgi_server import NoDelayWSGIServer
from supernode.config import load_config
from supernode.piece_server import create_piece_server
from supernode.storage import LocalStorage, MemoryStorage
from supernode.upload_pacer import PACE_STEP, Pacer, pacer_from_config
from tests.unit.supernode.test_piece_server import DATA, PATH, ServerThread


class FakeTime:
    """A clock that only moves when the pacer sleeps (the pacer's arithmetic, not real waiting)."""

    def __init__(self):
        self.now, self.slept = 10.0, []

    def clock(self):
        return self.now

    def sleep(self, s):
        self.slept.append(s)
        self.now += s


def test_pacer_lets_a_burst_through_then_spaces_reservations_at_the_rate():
    t = FakeTime()
    p = Pacer(1000, burst=500, clock=t.clock, sleep=t.sleep)
    assert p.acquire(500) == 0                      # within the burst
    assert p.acquire(500) == pytest.approx(0.5)     # 1000 bytes due by t+1.0, 500 may run ahead: wait 0.5
    assert p.acquire(1000) == pytest.approx(1.0)
    assert t.now == pytest.approx(11.5)             # 2000 bytes at 1000/s, 500 of them early
    t.now += 60                                     # idle: no credit beyond the burst builds up
    assert p.acquire(500) == 0
    assert p.acquire(1000) == pytest.approx(1.0)


def test_pacer_shared_by_callers_keeps_the_total_rate():
    t = FakeTime()
    p = Pacer(100, burst=0, clock=t.clock, sleep=lambda s: t.slept.append(s))   # the clock stands still
    waits = [p.acquire(10) for _ in range(5)]       # five callers at the same instant queue one after the other
    assert waits == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])


def test_pacer_config():
    assert pacer_from_config(load_config(overrides={})) is None
    paced = pacer_from_config(load_config(overrides={"upload_rate": "11M"}))
    assert paced is not None and paced.rate == 11 * (1 << 20)
    with pytest.raises(ValueError):
        Pacer(0)


class CountingPace:
    def __init__(self):
        self.calls, self._lock = [], threading.Lock()

    def __call__(self, n):
        with self._lock:
            self.calls.append(n)


@pytest.mark.parametrize("kind", ["local-sendfile", "local", "memory"])
def test_paced_piece_server_paces_every_byte(tmp_path, kind):
    store = MemoryStorage() if kind == "memory" else LocalStorage(str(tmp_path))
    store.put_atomic(PATH[1:], DATA)
    store.put_atomic(PATH[1:] + ".meta", b"{}")
    pace = CountingPace()
    server_class = NoDelayWSGIServer if kind.endswith("sendfile") else WSGIServer
    srv = ServerThread(create_piece_server(store, None, pace), server_class).start()
    try:
        r = requests.get(srv.url(PATH), headers={"Range": "bytes=100-"}, timeout=(5, 30))
        assert r.status_code == 206 and r.content == DATA[100:]
        assert sum(pace.calls) == len(DATA) - 100
        if kind == "local-sendfile":                 # short sendfile steps: short bursts into the egress queue
            assert max(pace.calls) == PACE_STEP
    finally:
        srv.stop()
