import pytest

from supernode.policies.sink import PolicySink
from webhooks.events import ImageEvent

DIGEST = "sha256:" + "b" * 64


class FailingSink:
    """A stand-in inner sink (the plain webhook preheat) that fails the first ``fails`` deliveries."""

    def __init__(self, fails=1):
        self.fails, self.calls = fails, 0

    def preheat_image(self, event):
        self.calls += 1
        if self.calls <= self.fails:
            raise RuntimeError("origin down")


class Router:
    """Records the events routed to policies (the router itself is tested in test_policy_events)."""

    def __init__(self):
        self.events = []

    def on_event(self, event):
        self.events.append(event)
        return []


def test_retried_deliveries_start_policy_runs_once():
    inner, router = FailingSink(), Router()
    sink = PolicySink(inner, router)
    ev = ImageEvent(action="push", registry="r:5000", repository="a", tag="v1", digest=DIGEST)
    with pytest.raises(RuntimeError):
        sink.preheat_image(ev)
    sink.preheat_image(ev)                          # the dispatcher's retry
    assert inner.calls == 2 and router.events == [ev]
    sink.preheat_image(ImageEvent(action="push", registry="r:5000", repository="a", tag="v2", digest=DIGEST))
    assert len(router.events) == 2


def test_policy_only_sink_and_memory_bound():
    router = Router()
    sink = PolicySink(None, router, remember=2)
    events = [ImageEvent(action="push", registry="r", repository="a", tag=f"v{i}", digest=DIGEST) for i in range(3)]
    for ev in events:
        sink.preheat_image(ev)
    sink.preheat_image(events[0])                   # forgotten: routed again
    assert len(router.events) == 4
