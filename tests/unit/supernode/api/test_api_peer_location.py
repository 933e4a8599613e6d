"""The optional location / idc labels of /peer/registry (our addition; Dragonfly 1.x clients send neither)."""
from .conftest import register_body


def _peer_of(sn, cid, task_id):
    st = sn.services.state
    return st.peers.get(st.dfget_tasks.get(cid, task_id).peer_id)


def test_the_labels_are_kept_on_the_peer(sn, origin):
    body = register_body(origin.url, cid="10.0.0.7-1-7.000", location="eu|fra|r1", idc="dc1")
    r = sn.post("/peer/registry", json=body)
    assert r.status_code == 200 and r.json()["code"] == 200, r.text
    peer = _peer_of(sn, "10.0.0.7-1-7.000", r.json()["data"]["taskId"])
    assert (peer.location, peer.idc, peer.location_parts) == ("eu|fra|r1", "dc1", ("eu", "fra", "r1"))


def test_a_registration_without_labels_still_works(sn, origin):
    r = sn.post("/peer/registry", json=register_body(origin.url, cid="10.0.0.8-1-8.000"))
    assert r.status_code == 200 and r.json()["code"] == 200, r.text
    peer = _peer_of(sn, "10.0.0.8-1-8.000", r.json()["data"]["taskId"])
    assert (peer.location, peer.idc) == ("", "")


def test_a_label_that_is_not_a_short_string_is_a_bad_parameter(sn, origin):
    for extra in ({"location": "x" * 257}, {"idc": ["dc1"]}):
        r = sn.post("/peer/registry", json=register_body(origin.url, cid="10.0.0.9-1-9.000", **extra))
        assert r.status_code == 400, r.text
        assert r.json()["code"] == 501 and list(extra)[0] in r.json()["message"]
