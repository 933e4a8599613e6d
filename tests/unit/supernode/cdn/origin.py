"""A real HTTP origin for CDN tests: a threaded http.server serving generated files.

Supports single byte ranges, ETag / Last-Modified and 304 answers, forced status codes
(404, 401, 500...), counting of body bytes served, a one-shot cut-off of a body (the
connection drops after N bytes) and a gate that holds a body after its first N bytes.
"""
from __future__ import annotations

import hashlib
import re
import socket
import threading
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler

from tests.helpers import serve_http

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass
class OriginFile:
    data: bytes
    status: int = 200
    etag: str | None = None
    last_modified: float | None = None
    ranges: bool = True
    cut_after: int | None = None              # one shot: drop the connection after this many body bytes
    hold_after: int | None = None             # wait on gate after this many body bytes
    gate: threading.Event = field(default_factory=threading.Event)


class Origin:
    def __init__(self):
        self.files: dict[str, OriginFile] = {}
        self.body_bytes = 0
        self.download_bytes = 0      # body bytes of requests other than the 1-byte probes (Range: bytes=0-0)
        self.requests: list[tuple[str, str, dict]] = []
        self._lock = threading.Lock()
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                origin._handle(self, head=True)

            def do_GET(self):
                origin._handle(self, head=False)

        self.server = serve_http(Handler, start=False)
        self.server.handle_error = lambda request, client_address: None    # clients hang up mid-body on purpose
        self.port = self.server.server_address[1]
        self._thread = self.server.thread

    def start(self) -> "Origin":
        self._thread.start()
        return self

    def stop(self) -> None:
        for f in self.files.values():
            f.gate.set()
        self.server.shutdown()
        self.server.server_close()

    def add(self, path: str, data: bytes, etag: bool = True, last_modified: bool = True, **kw) -> OriginFile:
        f = OriginFile(data, etag='"%s"' % hashlib.md5(data).hexdigest() if etag else None,
                       last_modified=1_700_000_000.0 if last_modified else None, **kw)
        self.files[path] = f
        return f

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def served(self, path: str) -> list[dict]:
        return [h for m, p, h in self.requests if p == path]

    def _handle(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        path = h.path.split("?", 1)[0]
        headers = {k.lower(): v for k, v in h.headers.items()}
        with self._lock:
            self.requests.append((h.command, path, headers))
        f = self.files.get(path)
        if f is None or f.status != 200:
            status = 404 if f is None else f.status
            h.send_response(status)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        validators = []
        if f.etag:
            validators.append(("ETag", f.etag))
        if f.last_modified is not None:
            validators.append(("Last-Modified", formatdate(f.last_modified, usegmt=True)))
        if self._not_modified(f, headers):
            h.send_response(304)
            for k, v in validators:
                h.send_header(k, v)
            h.end_headers()
            return
        size, start, end, status = len(f.data), 0, len(f.data) - 1, 200
        rng = headers.get("range")
        if rng and f.ranges:
            m = _RANGE.match(rng.strip())
            if m and m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
            elif m and m.group(2):
                start, end = max(0, size - int(m.group(2))), size - 1
            if start >= size or end < start:
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{size}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            status = 206
        body = f.data[start:end + 1]
        h.send_response(status)
        h.send_header("Content-Length", str(len(body)))
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        if f.ranges:
            h.send_header("Accept-Ranges", "bytes")
        for k, v in validators:
            h.send_header(k, v)
        h.end_headers()
        if not head:
            self._send_body(h, f, body, probe=rng == "bytes=0-0")

    @staticmethod
    def _not_modified(f: OriginFile, headers: dict) -> bool:
        inm = headers.get("if-none-match")
        if inm is not None:
            return f.etag is not None and inm == f.etag
        ims = headers.get("if-modified-since")
        if ims and f.last_modified is not None:
            try:
                return parsedate_to_datetime(ims).timestamp() >= int(f.last_modified)
            except (TypeError, ValueError):
                return False
        return False

    def _send_body(self, h, f: OriginFile, body: bytes, probe: bool) -> None:
        limit = len(body)
        if f.cut_after is not None and f.cut_after < limit:
            limit, f.cut_after = f.cut_after, None
        pos = 0
        try:
            while pos < limit:
                if f.hold_after is not None and pos >= f.hold_after:
                    f.gate.wait(30)
                n = min(65536, limit - pos)
                if f.hold_after is not None and pos < f.hold_after:
                    n = min(n, f.hold_after - pos)
                h.wfile.write(body[pos:pos + n])
                pos += n
                with self._lock:
                    self.body_bytes += n
                    if not probe:
                        self.download_bytes += n
            h.wfile.flush()
        except OSError:
            return
        if limit < len(body):
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
