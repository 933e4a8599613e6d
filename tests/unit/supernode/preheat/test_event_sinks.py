"""FanoutSink: each event reaches every plug-in sink once, whatever the built-in sink and the other plug-ins do."""
import pytest

from supernode.preheat.event_sinks import FanoutSink
from webhooks.events import ImageEvent


def event(tag="v1"):
    return ImageEvent(action="push", registry="reg.example", repository="proj/app", tag=tag,
                      digest="sha256:" + "cd" * 32)


class Recorder:
    def __init__(self, fail=False):
        self.got, self.fail = [], fail

    def preheat_image(self, ev):
        self.got.append(ev.tag)
        if self.fail:
            raise RuntimeError("down")


def test_a_failing_plugin_neither_breaks_nor_repeats_a_delivery():
    inner, broken, good, errors = Recorder(), Recorder(fail=True), Recorder(), []
    sink = FanoutSink(inner, [("broken", broken), ("good", good)], on_error=errors.append)
    sink.preheat_image(event())
    assert inner.got == ["v1"] and broken.got == ["v1"] and good.got == ["v1"] and errors == ["broken"]


def test_a_retried_delivery_reaches_the_plugins_once():
    inner, plugin = Recorder(fail=True), Recorder()
    sink = FanoutSink(inner, [("p", plugin)])
    for _ in range(3):                          # the preheat fails: the dispatcher delivers again
        with pytest.raises(RuntimeError):
            sink.preheat_image(event())
    assert inner.got == ["v1"] * 3 and plugin.got == ["v1"]
    inner.fail = False
    sink.preheat_image(event("v2"))             # another push is another event
    assert plugin.got == ["v1", "v2"]
