"""A light load generator for ``bench.scheduler_rps``: simulated peers on raw keep-alive HTTP/1.1 sockets.

One process drives many peers with one ``selectors`` loop and no HTTP library: each peer has its own
connection, its requests are short byte strings formatted from fixed parts, and a reply is read by its
Content-Length. A peer runs our dfget's loop with ``reportInPull`` (no ``/peer/piece/suc``): ``/peer/task``
700, then 701 reporting the oldest piece handed out (result 501) or nothing (502), and a new registration
when told the download is finished (600). So most of the machine's CPU goes to the server being measured.
"""
from __future__ import annotations

import json
import selectors
import socket
import time
import uuid
from urllib.parse import quote

STARTED, RUNNING = 700, 701
SUC, INVALID = 501, 502
CONTINUE, FINISH, WAIT = 601, 600, 602


def _register_body(url: str, cid: str, n: int) -> bytes:
    return json.dumps({"rawUrl": url, "taskUrl": url, "cid": cid, "ip": f"127.0.{n // 250}.{n % 250 + 2}",
                       "hostName": f"sim{n}", "port": 15000 + n % 1000, "path": f"/sim/{cid}", "version": "bench",
                       "md5": "", "identifier": "", "callSystem": "bench", "headers": [], "dfdaemon": False,
                       "insecure": False, "rootCAs": [], "taskId": "", "fileLength": 0, "asSeed": False,
                       "superNodeIp": "", "pattern": "p2p"}).encode()


class _Peer:
    __slots__ = ("n", "sock", "buf", "cid", "task_id", "pending", "sent", "registering", "prefix")

    def __init__(self, n: int, sock: socket.socket):
        self.n, self.sock, self.buf = n, sock, b""
        self.cid = self.task_id = ""
        self.pending: list[tuple[str, str]] = []
        self.sent = 0.0
        self.registering = False
        self.prefix = b""


class Load:
    def __init__(self, host: str, port: int, url: str):
        self.host, self.port, self.url = host, port, url
        self.head = f"Host: {host}:{port}\r\nConnection: keep-alive\r\n".encode()

    def _send_register(self, p: _Peer) -> None:
        p.cid = f"bench-{uuid.uuid4().hex[:12]}"
        body = _register_body(self.url, p.cid, p.n)
        p.registering = True
        p.sent = time.perf_counter()
        p.sock.sendall(b"POST /peer/registry HTTP/1.1\r\n" + self.head + b"Content-Type: application/json\r\n"
                       b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)

    def _send_task(self, p: _Peer, status: int) -> None:
        if p.pending:
            rng, dst = p.pending.pop(0)
            tail = f"&status={status}&result={SUC}&range={quote(rng)}&dstCid={quote(dst)}"
        else:
            tail = f"&status={status}&result={INVALID}&range=&dstCid="
        p.registering = False
        p.sent = time.perf_counter()
        p.sock.sendall(p.prefix + tail.encode() + b" HTTP/1.1\r\n" + self.head + b"\r\n")

    @staticmethod
    def _reply(p: _Peer) -> dict | None:
        """A whole reply read from ``p.buf`` (its JSON body), or None when more bytes are needed."""
        end = p.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = p.buf[:end].lower()
        i = head.find(b"content-length:")
        length = int(head[i + 15:head.find(b"\r\n", i) if head.find(b"\r\n", i) > 0 else None]) if i >= 0 else 0
        if len(p.buf) < end + 4 + length:
            return None
        body, p.buf = p.buf[end + 4:end + 4 + length], p.buf[end + 4 + length:]
        return json.loads(body)

    def run(self, first: int, count: int, seconds: float, start_at: float) -> dict:
        sel = selectors.DefaultSelector()
        peers = []
        for i in range(count):
            sock = socket.create_connection((self.host, self.port), timeout=30)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            p = _Peer(first + i, sock)
            peers.append(p)
            sel.register(sock, selectors.EVENT_READ, p)
        lat: list[float] = []
        errors = registrations = 0
        while time.time() < start_at:       # every load process starts at the same moment
            time.sleep(0.01)
        stop_at = time.monotonic() + seconds
        for p in peers:
            self._send_register(p)
        while time.monotonic() < stop_at:
            for key, _ in sel.select(timeout=0.5):
                p = key.data
                data = p.sock.recv(65536)
                if not data:
                    raise RuntimeError("the supernode closed a connection")
                p.buf += data
                while True:
                    reply = self._reply(p)
                    if reply is None:
                        break
                    code = reply.get("code")
                    if p.registering:
                        if code != 200:
                            raise RuntimeError(f"register failed: {reply}")
                        registrations += 1
                        p.task_id = reply["data"]["taskId"]
                        p.pending = []
                        p.prefix = f"GET /peer/task?taskId={quote(p.task_id)}&srcCid={quote(p.cid)}".encode()
                        self._send_task(p, STARTED)
                        continue
                    lat.append(time.perf_counter() - p.sent)
                    if code == FINISH:
                        self._send_register(p)
                        continue
                    if code == CONTINUE:
                        p.pending.extend((d.get("range"), d.get("cid", "")) for d in reply.get("data") or ())
                    elif code != WAIT:
                        errors += 1
                    self._send_task(p, RUNNING)
        for p in peers:
            p.sock.close()
        return {"latencies": lat, "errors": errors, "registrations": registrations}


def load_process(host: str, port: int, url: str, first: int, count: int, seconds: float, start_at: float,
                 queue) -> None:
    queue.put(Load(host, port, url).run(first, count, seconds, start_at))
