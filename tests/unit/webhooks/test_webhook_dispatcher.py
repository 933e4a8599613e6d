import time

import pytest

from webhooks.dispatcher import Dispatcher, PreheatSink
from webhooks.events import ImageEvent
from webhooks.queue import DEAD, DONE, SqliteWorkQueue
from webhooks.sinks import LoggingSink, RecordingSink

from .webhook_payloads import digest


def ev(i):
    return ImageEvent(action="push", registry="harbor.dev", repository="library/app", tag=f"t{i}",
                      digest=digest(str(i)))


def eventually(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def queue(tmp_path):
    q = SqliteWorkQueue(str(tmp_path / "q.db"), max_attempts=3)
    yield q
    q.close()


def test_sinks_satisfy_the_protocol():
    assert isinstance(RecordingSink(), PreheatSink) and isinstance(LoggingSink(), PreheatSink)
    LoggingSink().preheat_image(ev(1))


def test_delivers_everything_once_in_order(queue):
    sink = RecordingSink()
    d = Dispatcher(queue, sink, poll_interval=0.05).start()
    try:
        queue.enqueue_many([ev(i) for i in range(20)])
        assert sink.wait_for(20)
        assert eventually(lambda: queue.counts()[DONE] == 20)
    finally:
        d.stop()
    assert sink.events == [ev(i) for i in range(20)]
    assert not d.running


def test_failures_are_retried_with_backoff_then_succeed(queue):
    sink = RecordingSink(fail_times=2)
    d = Dispatcher(queue, sink, poll_interval=0.05, backoff=0.01, backoff_max=0.02).start()
    try:
        queue.enqueue(ev(1))
        assert sink.wait_for(1)
    finally:
        d.stop()
    assert sink.calls == 3 and sink.events == [ev(1)]
    (item,) = queue.items()
    assert item.state == DONE and item.attempts == 3


def test_exhausted_attempts_become_dead_letters(queue):
    sink = RecordingSink(fail_times=100)
    d = Dispatcher(queue, sink, poll_interval=0.05, backoff=0.01, backoff_max=0.02).start()
    try:
        queue.enqueue_many([ev(1), ev(2)])
        assert eventually(lambda: queue.counts()[DEAD] == 2)
    finally:
        d.stop()
    assert sink.events == [] and sink.calls == 6
    assert all("planned failure 3" in item.last_error for item in queue.dead_letters())


def test_retry_delay_grows_and_is_capped(queue):
    d = Dispatcher(queue, RecordingSink(), backoff=2, backoff_max=30)
    assert [d.retry_delay(n) for n in (1, 2, 3, 4, 5, 6)] == [2, 4, 8, 16, 30, 30]


def test_work_left_at_stop_is_done_after_a_restart(tmp_path):
    path = str(tmp_path / "q.db")
    q = SqliteWorkQueue(path)
    q.enqueue_many([ev(i) for i in range(5)])
    q.close()                               # the process stopped before dispatching anything
    q = SqliteWorkQueue(path)
    sink = RecordingSink()
    d = Dispatcher(q, sink, workers=2, poll_interval=0.05).start()
    try:
        assert sink.wait_for(5)
    finally:
        d.stop()
        q.close()
    assert sorted(e.tag for e in sink.events) == [f"t{i}" for i in range(5)]


def test_stop_without_start_and_double_start(queue):
    d = Dispatcher(queue, RecordingSink(), poll_interval=0.05)
    d.stop()
    d.start()
    d.start()
    assert d.running
    d.stop()
    assert not d.running
