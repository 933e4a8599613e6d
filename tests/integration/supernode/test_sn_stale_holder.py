"""A client that registers again under the same cid (a dfget that moved to another supernode and back, or
retried its registration) gets a new peer id; the pieces its old registration reported still name the old
peer as holder. A real supernode process must not hand those pieces out from the stale holder for ever: it
drops that holder and serves the piece itself, so the next client still reaches 600."""
import requests

from tests.integration.supernode.test_sn_pull_walk import HeldPieces, origin, supernode, walk  # noqa: F401


def test_a_holder_whose_client_registered_again_is_dropped_and_the_next_client_finishes(supernode, origin):
    a_held, a_again, b_held = HeldPieces(), HeldPieces(), HeldPieces()
    try:
        cid = "127.0.0.1-a-1.000"
        task_id, a_content, a_src, _ = walk(supernode["url"], origin.url, cid, a_held.port, a_held)
        assert all(c.startswith("cdnnode:") for c in a_src.values())
        reg = requests.post(supernode["url"] + "/peer/registry", timeout=(5, 30), json={     # same cid, new peer
            "rawUrl": origin.url + "/layer", "taskUrl": origin.url + "/layer", "cid": cid, "ip": "127.0.0.1",
            "hostName": cid, "port": a_again.port, "path": f"/peer/file/{cid}", "version": "1.0.6",
            "superNodeIp": "127.0.0.1"}).json()
        assert reg["code"] == 200 and reg["data"]["taskId"] == task_id, reg
        _, b_content, b_src, _ = walk(supernode["url"], origin.url, "127.0.0.1-b-2.000", b_held.port, b_held)
        assert b"".join(b_content[n] for n in sorted(b_content)) == origin.files["/layer"]
        # the old registration's holdings are gone with it; the new one holds nothing: the supernode served all
        assert all(c.startswith("cdnnode:") for c in b_src.values()), b_src
        assert a_held.served == 0 and a_again.served == 0
    finally:
        for h in (a_held, a_again, b_held):
            h.stop()
