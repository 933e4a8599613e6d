"""A dispatcher asked to stop hands the item whose sink call was cut short back to the queue, with no
attempt counted, so the next process runs it as if it had never been tried."""
import threading

from webhooks.dispatcher import Dispatcher
from webhooks.events import ImageEvent
from webhooks.queue import READY, SqliteWorkQueue

from .webhook_payloads import digest


class BlockingSink:
    """Blocks in preheat_image until released, then fails (as the preheat engine's wait does at a stop)."""

    def __init__(self):
        self.entered = threading.Event()
        self.release = threading.Event()

    def preheat_image(self, event) -> None:
        self.entered.set()
        self.release.wait(20)
        raise RuntimeError("the supernode is stopping")


def test_item_cut_short_by_a_stop_goes_back_unchanged(tmp_path):
    queue = SqliteWorkQueue(str(tmp_path / "q.db"), max_attempts=1)
    sink = BlockingSink()
    d = Dispatcher(queue, sink, poll_interval=0.05).start()
    try:
        queue.enqueue(ImageEvent(action="push", registry="harbor.dev", repository="library/app", tag="v1",
                                 digest=digest("handback")))
        assert sink.entered.wait(20)
        d.request_stop()
        sink.release.set()
    finally:
        d.stop()
    items = queue.items()
    assert [(i.state, i.attempts, i.last_error) for i in items] == [(READY, 0, "")]
    assert queue.dead_letters() == []          # max_attempts=1: a counted failure would have killed it
    queue.close()
