"""PreheatService on a real supernode object graph (memory CDN storage, real scheduler) and a real origin:
file warms, task identity shared with dfget, dedup, failures that say why, the concurrency bound."""
import threading

import pytest

from dfcommon import task_id as tid
from dfcommon.errors import DfError
from supernode.cdn.types import SUCCESS as CDN_SUCCESS
from supernode.config import load_config
from supernode.preheat import (FAILED, SUCCESS, CdnWarmer, PreheatService, PreheatStore, check_request, install,
                               job_state)
from supernode.scheduler import RegisterRequest
from supernode.services import build_services
from tests.fixtures.origin import OriginServer, make_file

SIZE = 5 << 20


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    root = tmp_path_factory.mktemp("origin")
    (root / "private").mkdir()
    for name in ("a.bin", "b.bin", "c.bin", "d.bin", "private/p.bin"):
        make_file(str(root / name), SIZE if name == "a.bin" else 64 << 10, seed=len(name))
    srv = OriginServer(str(root)).start()
    yield srv
    srv.stop()


@pytest.fixture
def services(tmp_path):
    conf = load_config(overrides={"storage_driver": "memory", "home_dir": str(tmp_path), "advertise_ip": "127.0.0.1",
                                  "preheat": {"concurrency": 1}, "fetch": {"allow": ["127.0.0.0/8", "::1"]}}, environ={})
    s = build_services(conf)
    comp = install(s)
    comp.start()
    yield s
    comp.stop()
    s.close()


def test_file_warm_uses_the_task_id_of_dfget_and_the_origin_serves_once(services, origin):
    preheat = services.extras["preheat"]
    url = origin.url("a.bin") + "?sig=abc&keep=1"
    rec, created = preheat.create("file", url, {}, filter="sig")
    assert created and rec.id == tid.preheat_id(url, ["sig"])
    done = preheat.wait(rec.id, 60)
    assert done.status == SUCCESS, done.error
    task_url = origin.url("a.bin") + "?keep=1"
    assert done.task_id == tid.task_id(task_url) and done.bytes == SIZE
    assert services.state.tasks.get(done.task_id).cdn_status == CDN_SUCCESS
    assert origin.bytes_sent["/a.bin"] == SIZE
    # the same preheat again is the same record, nothing is fetched
    again, created = preheat.create("file", url, {}, filter="sig")
    assert again is done and not created and job_state(again) == "SUCCESS"
    # a dfget registering the same URL lands on the warmed task and triggers nothing
    reply = services.manager.register(RegisterRequest(
        raw_url=origin.url("a.bin") + "?sig=zzz&keep=1", task_url=task_url, cid="10.0.0.1-1-1.0", ip="10.0.0.1",
        host_name="h", port=15001, path="/peer/file/x"))
    assert reply["taskId"] == done.task_id and reply["fileLength"] == SIZE
    assert origin.bytes_sent["/a.bin"] == SIZE


def test_failures_say_why(services, origin):
    preheat = services.extras["preheat"]
    missing, _ = preheat.create("file", origin.url("nope.bin"), {})
    private, _ = preheat.create("file", origin.url("private/p.bin"), {"Authorization": "Bearer wrong"})
    for rec, why in ((missing, "not found"), (private, "token is missing, expired")):
        done = preheat.wait(rec.id, 60)
        assert done.status == FAILED and why in done.error, done.error
        assert job_state(done) == "FAILURE"
    # posted again with the right token: the failed record runs again under the same id
    again, created = preheat.create("file", origin.url("private/p.bin"), {"Authorization": "Bearer let-me-in"})
    assert created and again.id == private.id
    assert preheat.wait(again.id, 60).status == SUCCESS


def test_bad_requests_are_refused():
    for args in (("zip", "http://h/x", {}), ("file", "x", {}), ("file", "ftp://h/x", {}),
                 ("image", "http://h/v2/repo/blobs/sha256:0", {}), ("file", "http://h/x", {"a": 1}),
                 ("file", "http://h/x", ["a"])):
        with pytest.raises(DfError) as e:
            check_request(*args)
        assert e.value.code == "INVALID_PARAM"


class CountingWarmer:
    """The real CdnWarmer, instrumented to record how many warms run at once."""

    def __init__(self, inner):
        self.inner, self.running, self.peak = inner, 0, 0
        self._lock = threading.Lock()

    def warm(self, *args, **kw):
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            return self.inner.warm(*args, **kw)
        finally:
            with self._lock:
                self.running -= 1


def test_concurrency_bound_and_records_reloaded_after_a_restart(services, origin, tmp_path):
    conf = services.config.preheat
    conf.concurrency = 2
    warmer = CountingWarmer(CdnWarmer(services.manager))
    path = str(tmp_path / "other.db")
    svc = PreheatService(conf, PreheatStore(path), warmer).start()
    recs = [svc.create("file", origin.url(n), {})[0] for n in ("b.bin", "c.bin", "d.bin")]
    assert all(svc.wait(r.id, 60).status == SUCCESS for r in recs)
    assert 1 <= warmer.peak <= 2
    svc.stop()
    svc.store.close()
    reopened = PreheatService(conf, PreheatStore(path), warmer)
    rec, created = reopened.create("file", origin.url("b.bin"), {})
    assert not created and rec.status == SUCCESS
    reopened.store.close()
