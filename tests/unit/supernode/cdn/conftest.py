import threading

import pytest

from supernode.config import load_config
from supernode.metrics import SupernodeMetrics
from supernode.storage import LocalStorage, MemoryStorage

from .origin import Origin

MiB = 1 << 20


class RecordingListener:
    """Records every CdnListener call; ``done`` is set on success or failure."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pieces: dict[int, str] = {}
        self.piece_calls = 0
        self.success = None
        self.failure = None
        self.done = threading.Event()
        self.piece_events: dict[int, threading.Event] = {}

    def piece_event(self, n: int) -> threading.Event:
        with self.lock:
            return self.piece_events.setdefault(n, threading.Event())

    def on_piece(self, task_id, piece_num, piece_md5):
        with self.lock:
            self.pieces[piece_num] = piece_md5
            self.piece_calls += 1
        self.piece_event(piece_num).set()

    def on_success(self, task_id, file_length, real_md5, source_length):
        self.success = (task_id, file_length, real_md5, source_length)
        self.done.set()

    def on_failure(self, task_id, reason, source_error):
        self.failure = (task_id, reason, source_error)
        self.done.set()

    def wait(self, timeout=30):
        assert self.done.wait(timeout), "cdn run did not finish"
        return self


@pytest.fixture
def origin():
    o = Origin().start()
    yield o
    o.stop()


@pytest.fixture(params=["local", "memory"])
def storage(request, tmp_path):
    return LocalStorage(str(tmp_path)) if request.param == "local" else MemoryStorage()


@pytest.fixture
def make_config(tmp_path):
    def make(**over):
        base = {"home_dir": str(tmp_path), "cdn_writers": 3, "fetch": {"allow": ["127.0.0.0/8", "::1"]}}
        base.update(over)
        return load_config(None, base, environ={})
    return make


@pytest.fixture
def metrics():
    return SupernodeMetrics()
