"""The launcher and the ``dfget server`` process over real sockets."""
import http.client
import os
import signal
import threading

import requests

from dfcommon import pieces
from dfdaemon.upload import ensure_upload_server, notify_finish
from dfdaemon.upload.meta import read_service_port

from .conftest import pids_under, wait_for

PS = 4 * pieces.MiB


def meta_port(home):
    return read_service_port(os.path.join(home, "meta", "host.meta"))


def test_spawns_once_then_reuses(home):
    port = ensure_upload_server(home, "127.0.0.1", alive=60, expire=600)
    assert 0 < port < 65536 and meta_port(home) == port
    pids = pids_under(home)
    assert len(pids) == 1
    assert ensure_upload_server(home, "127.0.0.1", alive=60, expire=600) == port
    assert ensure_upload_server(home, "127.0.0.1", task_file_name="t1", total_limit=0) == port
    assert pids_under(home) == pids
    os.kill(pids[0], signal.SIGTERM)
    assert wait_for(lambda: meta_port(home) == 0 and not pids_under(home))


def test_concurrent_launches_share_one_server(home):
    ports = []
    threads = [threading.Thread(target=lambda: ports.append(ensure_upload_server(home, "127.0.0.1")))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(ports) == 3 and len(set(ports)) == 1
    assert len(pids_under(home)) == 1


def test_process_serves_wrapped_pieces(home):
    port = ensure_upload_server(home, "127.0.0.1", task_file_name="blob", alive=60)
    data = os.urandom(PS + 1000)
    with open(os.path.join(home, "data", "blob"), "wb") as f:
        f.write(data)
    (open(os.path.join(home, "secret"), "wb")).write(b"TOP-SECRET")
    for n in range(2):
        r = requests.get(f"http://127.0.0.1:{port}/peer/file/blob", timeout=10,
                         headers={"Range": "bytes=" + pieces.range_string(n, PS), "pieceNum": str(n),
                                  "pieceSize": str(PS)})
        assert r.status_code == 206
        off, size = pieces.source_span(n, PS, len(data))
        assert pieces.piece_md5(r.content) == pieces.piece_md5(pieces.wrap(data[off:off + size], PS))
    for path in ("/peer/file/../secret", "/peer/file/..%2Fsecret", "/peer/file/%2e%2e%2fsecret"):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", path, headers={"Range": "bytes=0-9", "pieceNum": "0", "pieceSize": "10",
                                           "cdnSource": "source"})
        resp = conn.getresponse()
        assert resp.status in (400, 404) and b"TOP-SECRET" not in resp.read()
        conn.close()
    r = requests.get(f"http://127.0.0.1:{port}/peer/file/blob", timeout=10,
                     headers={"Range": "bytes=" + pieces.range_string(2, PS), "pieceNum": "2",
                              "pieceSize": str(PS)})
    assert r.status_code == 416


def test_alive_time_exit_sends_service_down(home, supernode):
    port = ensure_upload_server(home, "127.0.0.1", alive=2, expire=600)
    path = os.path.join(home, "data", "done")
    with open(path, "wb") as f:
        f.write(b"payload")
    notify_finish(port, "done", "task-9", "cid-9", f"127.0.0.1:{supernode.port}")
    assert wait_for(lambda: not pids_under(home), timeout=30)
    assert meta_port(home) == 0
    assert supernode.standin.snapshot() == [{"taskId": "task-9", "cid": "cid-9"}]
    assert not os.path.exists(path)


def test_gc_deletes_expired_files(home, supernode):
    port = ensure_upload_server(home, "127.0.0.1", alive=120, expire=1, extra_args=["--gc-interval", "0.2"])
    keep = os.path.join(home, "data", "running")
    gone = os.path.join(home, "data", "finished")
    for p in (keep, gone):
        with open(p, "wb") as f:
            f.write(b"x")
    requests.get(f"http://127.0.0.1:{port}/check/running", timeout=5)
    notify_finish(port, "finished", "task-g", "cid-g", f"127.0.0.1:{supernode.port}")
    assert wait_for(lambda: not os.path.exists(gone), timeout=30)
    assert os.path.exists(keep)
    assert supernode.standin.snapshot() == [{"taskId": "task-g", "cid": "cid-g"}]


def test_background_launch_knows_its_port_before_the_child_answers(home):
    from dfdaemon.upload.launcher import launch_upload_server
    launch = launch_upload_server(home, "127.0.0.1", alive=60, expire=600, task_file_name="early",
                                  background=True)
    assert 0 < launch.port < 65536 and meta_port(home) == launch.port
    # a request sent now waits in the listen backlog until the child accepts it
    r = requests.get(f"http://127.0.0.1:{launch.port}/server/ping", timeout=10)
    assert r.status_code == 200 and r.text == "success"
    assert launch.wait(10) == launch.port and launch.ready
    pids = pids_under(home)
    assert len(pids) == 1
    os.kill(pids[0], signal.SIGTERM)
    assert wait_for(lambda: meta_port(home) == 0 and not pids_under(home))
