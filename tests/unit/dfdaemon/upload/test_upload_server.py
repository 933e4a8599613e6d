"""UploadServer embedded in a process: its own gevent hub in a worker thread, real socket."""
import queue
import threading

import requests

from dfdaemon.upload import UploadServer
from dfdaemon.upload.meta import read_service_port, write_service_port


def run_in_thread(server):
    ports = queue.Queue()

    def body():
        ports.put(server.start())
        server.wait()

    t = threading.Thread(target=body, daemon=True)
    t.start()
    return t, ports.get(timeout=10)


def test_embedded_server_serves_then_exits_when_idle(tmp_path, supernode):
    data = tmp_path / "data"
    data.mkdir()
    (data / "f").write_bytes(b"abc")
    meta = str(tmp_path / "meta" / "host.meta")
    server = UploadServer(str(data), ip="127.0.0.1", alive=1.0, expire=600, meta_path=meta, idle_check=0.1)
    thread, port = run_in_thread(server)
    write_service_port(meta, port)
    base = f"http://127.0.0.1:{port}"
    assert requests.get(base + "/check/f", timeout=5).text.startswith("f@")
    r = requests.get(base + "/peer/file/f", timeout=5,
                     headers={"Range": "bytes=0-2", "pieceNum": "0", "pieceSize": "3", "cdnSource": "source"})
    assert r.status_code == 206 and r.content == b"abc"
    requests.get(base + "/client/finish", timeout=5,
                 params={"taskFileName": "f", "taskID": "t-f", "cid": "c-f", "superNode": f"127.0.0.1:{supernode.port}"})
    thread.join(30)
    assert not thread.is_alive()
    assert read_service_port(meta) == 0
    assert not (data / "f").exists()
    assert supernode.standin.snapshot() == [{"taskId": "t-f", "cid": "c-f"}]
