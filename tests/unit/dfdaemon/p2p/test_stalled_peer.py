"""A piece source that stops sending (an open socket, no bytes) is dropped for that piece after the stall
timeout and reported failed in the next /peer/task call; the piece then comes from elsewhere and the download
finishes correctly. Real sockets: a listener that accepts and never answers, one that sends the reply head
and then nothing, a real HTTP piece server for the good copies; the supernode is the scripted one."""
import socket
import threading

import pytest

from dfcommon import pieces
from dfdaemon.p2p.downloader import Downloader, DownloaderOptions

from .test_pull_loop import PS, cdn, cont, finish, piece, scripted  # noqa: F401  (cdn is a fixture)


class StalledPeer:
    """Accepts connections and keeps them open; with ``head`` it first sends a 206 reply head for a whole piece."""

    def __init__(self, head: bool):
        self.head = head
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.conns = []
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(conn)
            if self.head:
                conn.recv(65536)
                conn.sendall(f"HTTP/1.1 206 Partial Content\r\nContent-Length: {PS}\r\n"
                             f"Content-Range: bytes 0-{PS - 1}/{3 * PS}\r\n\r\n".encode())

    def stop(self):
        self._stop.set()
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.mark.parametrize("head", [False, True], ids=["silent", "head-then-nothing"])
def test_a_stalled_peer_is_dropped_and_the_piece_comes_from_elsewhere(tmp_path, cdn, head):  # noqa: F811
    srv, data, wrapped = cdn
    stalled = StalledPeer(head)
    bad = piece(0, wrapped, stalled.port)
    bad["cid"] = "stalled-peer"
    good = [piece(n, wrapped, srv.port) for n in range(3)]
    # the supernode says "wait" until the failure of piece 0 is reported, then hands it out from the good server
    sn = scripted([cont(bad, good[1], good[2]), (200, {"code": 602, "msg": "wait"})], len(data))
    stop = threading.Event()

    def reschedule_after_the_failure():
        while not stop.wait(0.02):
            if any(p == "/peer/task" and q.get("result") == "500" for p, q, _ in list(sn.calls)):
                sn.script["/peer/task"] = [cont(good[0]), cont(), finish(data)]
                return
    threading.Thread(target=reschedule_after_the_failure, daemon=True).start()
    try:
        dl = Downloader(DownloaderOptions(work_home=str(tmp_path / "home"), nodes=[sn.node], local_limit=0,
                                          stall_timeout=0.5))
        res = dl.download("http://origin.invalid/f", str(tmp_path / "out"), pattern="cdn", notbs=True)
    finally:
        stop.set()
        sn.stop()
        stalled.stop()
    assert res.success, res.message
    assert (tmp_path / "out").read_bytes() == data
    assert stalled.accepted >= 1 and res.pieces_stalled == 1
    fails = [q for p, q, _ in sn.calls if p == "/peer/task" and q.get("result") == "500"]
    assert fails and {(q["range"], q["dstCid"]) for q in fails} == {(pieces.range_string(0, PS), "stalled-peer")}
    # the piece was fetched again, from the good server, and reported written from there
    written = [q for p, q, _ in sn.calls if p == "/peer/task" and q.get("result") in ("501", "503")
               and q.get("range") == pieces.range_string(0, PS)]
    assert written and written[-1]["dstCid"] == "peer-0"


def test_without_the_watchdog_the_stall_is_not_cut_short(tmp_path, cdn):  # noqa: F811
    """stall_timeout 0: the read waits for the per-piece timeout; the fetcher is asked directly so the test
    does not wait for it: its socket read timeout is the piece timeout, not the stall timeout."""
    from dfcommon.pool_http import PoolClient
    from dfdaemon.p2p.piece_fetcher import PieceFetcher, piece_timeout
    captured = {}

    class Recording(PoolClient):
        def request(self, method, url, *, timeout, **kw):
            captured["timeout"] = timeout
            raise __import__("dfcommon.pool_http", fromlist=["HttpError"]).HttpError("connect", "stop here")

    from dfdaemon.p2p.supernode_client import PieceTask
    srv, _, wrapped = cdn
    task = PieceTask.from_json(piece(0, wrapped, srv.port))
    for stall, expected in ((0.0, piece_timeout(PS, 64 << 10)), (2.0, 2.0)):
        with pytest.raises(Exception):
            PieceFetcher(Recording(), stall_timeout=stall).fetch(task, sink=None)
        assert captured["timeout"][1] == expected
