import threading

import pytest

from webhooks.events import ImageEvent
from webhooks.queue import CLAIMED, DEAD, DONE, READY, SqliteWorkQueue
from tests.helpers import ManualClock

from .webhook_payloads import digest


def ev(i, tag="v1", repo="library/app"):
    return ImageEvent(action="push", registry="harbor.dev", repository=repo, tag=tag, digest=digest(str(i)))


@pytest.fixture
def clock():
    return ManualClock(1_000_000.0)


@pytest.fixture
def qpath(tmp_path):
    return str(tmp_path / "sub" / "queue.db")


def test_enqueue_survives_close_and_reopen(qpath, clock):
    q = SqliteWorkQueue(qpath, clock=clock)
    assert q.enqueue_many([ev(1), ev(2), ev(3)]) == (3, 0)
    q.close()
    q2 = SqliteWorkQueue(qpath, clock=clock)
    items = q2.items()
    assert [i.event for i in items] == [ev(1), ev(2), ev(3)]
    assert all(i.state == READY and i.attempts == 0 for i in items)
    # dedup state survives as well
    assert q2.enqueue(ev(1)) is False
    q2.close()


def test_dedup_within_window_only(qpath, clock):
    q = SqliteWorkQueue(qpath, dedup_window=60, clock=clock)
    assert q.enqueue(ev(1)) is True
    assert q.enqueue_many([ev(1), ev(1, tag="v2"), ev(2)]) == (2, 1)
    (item,) = [i for i in q.claim(10) if i.event == ev(1)][:1]
    q.ack(item.id)
    clock.now += 59
    assert q.enqueue(ev(1)) is False           # done items still deduplicate inside the window
    clock.now += 2
    assert q.enqueue(ev(1)) is True            # a push after the window is new work
    q.close()


def test_duplicates_inside_one_delivery(qpath, clock):
    q = SqliteWorkQueue(qpath, clock=clock)
    assert q.enqueue_many([ev(1), ev(1), ev(1)]) == (1, 2)
    q.close()


def test_claim_ack_and_attempts(qpath, clock):
    q = SqliteWorkQueue(qpath, max_attempts=3, clock=clock)
    q.enqueue_many([ev(1), ev(2)])
    first = q.claim(1)
    assert len(first) == 1 and first[0].attempts == 1 and first[0].state == CLAIMED
    assert [i.event for i in q.claim(5)] == [ev(2)]     # a claimed item is not handed out twice
    assert q.claim(5) == []
    q.ack(first[0].id)
    assert q.get(first[0].id).state == DONE
    assert q.counts() == {READY: 0, CLAIMED: 1, DONE: 1, DEAD: 0}
    q.close()


def test_retry_with_delay_then_dead_letter(qpath, clock):
    q = SqliteWorkQueue(qpath, max_attempts=3, clock=clock)
    q.enqueue(ev(1))
    for attempt in (1, 2):
        (item,) = q.claim()
        assert item.attempts == attempt
        assert q.fail(item.id, f"boom {attempt}", retry_delay=10) == READY
        assert q.claim() == []                  # not due yet
        assert q.next_due() == clock.now + 10
        clock.now += 10
    (item,) = q.claim()
    assert q.fail(item.id, "boom 3", retry_delay=10) == DEAD
    clock.now += 1000
    assert q.claim() == []
    (dead,) = q.dead_letters()
    assert dead.attempts == 3 and dead.last_error == "boom 3" and dead.event == ev(1)
    q.close()
    # dead letters are durable and can be requeued with fresh attempts
    q = SqliteWorkQueue(qpath, max_attempts=3, clock=clock)
    assert len(q.dead_letters()) == 1
    assert q.requeue_dead() == 1
    (item,) = q.claim()
    assert item.attempts == 1
    q.close()


def test_claimed_items_come_back_after_restart_or_lease(qpath, clock):
    q = SqliteWorkQueue(qpath, lease=30, clock=clock)
    q.enqueue_many([ev(1), ev(2)])
    q.claim(2)
    q.close()                                   # the worker "died" holding both items
    q = SqliteWorkQueue(qpath, lease=30, clock=clock)
    assert {i.event for i in q.claim(5)} == {ev(1), ev(2)}
    q.close()
    shared = SqliteWorkQueue(qpath, lease=30, reclaim_on_open=False, clock=clock)
    assert shared.claim(5) == []                # still leased
    clock.now += 31
    again = shared.claim(5)
    assert len(again) == 2 and all(i.attempts == 3 for i in again)
    shared.close()


def test_release_does_not_count_an_attempt(qpath, clock):
    q = SqliteWorkQueue(qpath, clock=clock)
    q.enqueue(ev(1))
    (item,) = q.claim()
    q.release(item.id)
    (item,) = q.claim()
    assert item.attempts == 1
    q.close()


def test_purge_forgets_done_items_after_the_window(qpath, clock):
    q = SqliteWorkQueue(qpath, dedup_window=60, clock=clock)
    q.enqueue_many([ev(1), ev(2)])
    a, b = q.claim(2)
    q.ack(a.id)
    q.fail(b.id, "x", 0)
    clock.now += 61
    assert q.purge() == 1
    assert [i.event for i in q.items()] == [b.event]
    q.close()


def test_listener_called_when_something_was_queued(qpath, clock):
    q = SqliteWorkQueue(qpath, clock=clock)
    calls = []
    q.add_listener(lambda: calls.append(1))
    q.enqueue(ev(1))
    q.enqueue(ev(1))
    assert calls == [1]
    q.close()


def test_concurrent_enqueue_from_threads_and_two_connections(qpath):
    """8 threads over two connections to one file enqueue 50 distinct events 4 times each."""
    queues = [SqliteWorkQueue(qpath), SqliteWorkQueue(qpath, reclaim_on_open=False)]
    results = []
    lock = threading.Lock()

    def work(n):
        q = queues[n % 2]
        for i in range(50):
            r = q.enqueue_many([ev(i)])
            with lock:
                results.append(r)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r[0] for r in results) == 50 and sum(r[1] for r in results) == 350
    claimed = queues[0].claim(1000) + queues[1].claim(1000)
    assert sorted(i.event.digest for i in claimed) == sorted(digest(str(i)) for i in range(50))
    for q in queues:
        q.close()


def test_closed_queue_refuses_work(qpath):
    q = SqliteWorkQueue(qpath)
    q.close()
    with pytest.raises(RuntimeError, match="closed"):
        q.enqueue(ev(1))
