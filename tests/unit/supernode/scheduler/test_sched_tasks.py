import pytest

from dfcommon import task_id as tid
from dfcommon.errors import DfError
from supernode.scheduler import DfgetTask, DfgetTaskRegistry, PeerRegistry, TaskRegistry, new_task


def test_task_id_from_url_sign_and_exact_range_header():
    t = new_task("http://h/f?a=1", "http://h/f", md5="abc", headers=[("Range", "bytes=0-9")])
    assert t.id == tid.task_id("http://h/f", "abc", "", {"Range": "bytes=0-9"})
    assert new_task("http://h/f", "", identifier="x").id == tid.task_id("http://h/f", "", "x")
    # only the exact key "Range" counts; other headers never change the id
    assert new_task("http://h/f", "", headers=[("range", "1-2"), ("Authorization", "Bearer t")]).id \
        == tid.task_id("http://h/f")


def test_conflicting_identity_with_same_id_is_rejected():
    reg = TaskRegistry()
    a = new_task("http://h/f", "", md5="x")
    stored, created = reg.add_or_get(a)
    assert created and stored is a
    again, created = reg.add_or_get(new_task("http://h/f", "", md5="x"))
    assert again is a and not created
    # identifier "x" yields the same id as md5 "x" but is not the same task
    clash = new_task("http://h/f", "", identifier="x")
    assert clash.id == a.id
    with pytest.raises(DfError) as e:
        reg.add_or_get(clash)
    assert e.value.df_code == 606


def test_dfget_tasks_index_by_peer_and_replace():
    reg = DfgetTaskRegistry()
    reg.add(DfgetTask("c1", "t", "p1"))
    assert reg.cid_of("p1", "t") == "c1"
    old = reg.add(DfgetTask("c1", "t", "p2"))
    assert old.peer_id == "p1" and reg.cid_of("p1", "t") is None and reg.cid_of("p2", "t") == "c1"
    assert [d.cid for d in reg.for_task("t")] == ["c1"]
    reg.delete("c1", "t")
    assert reg.get("c1", "t") is None and reg.for_peer("p2") == []


def test_peer_ids_are_unique_and_cdn_pattern_detected():
    peers = PeerRegistry()
    a = peers.register("1.2.3.4", "host", 15000)
    b = peers.register("1.2.3.4", "host", 15000)
    assert a.id != b.id and a.id.startswith("host-1.2.3.4-")
    assert peers.register("1.2.3.4", "host", 0).cdn_pattern
    assert peers.register("1.2.3.4", "host", 1, cdn_pattern=True).cdn_pattern
    assert peers.mark_down(a.id) and peers.down_before(float("inf")) == [a.id]
