"""A small real origin HTTP server for tests: serves byte strings with Range support,
answers 404 for unknown paths and 401 under /private/ without the right Authorization."""
from __future__ import annotations

import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.helpers import serve_http


class Origin:
    def __init__(self, files: dict[str, bytes] | None = None, token: str = "Bearer good"):
        self.files = dict(files or {})
        self.token = token
        self.hits: dict[str, int] = {}
        self.bytes_sent = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "Origin":
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, head: bool):
                path = self.path.split("?", 1)[0]
                origin.hits[path] = origin.hits.get(path, 0) + 1
                if path.startswith("/private/") and self.headers.get("Authorization") != origin.token:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = origin.files.get(path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start, end, status = 0, len(body) - 1, 200
                m = re.match(r"bytes=(\d+)-(\d*)$", self.headers.get("Range", ""))
                if m and int(m.group(1)) >= len(body):      # as real servers do: nothing to send
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if m:
                    start = int(m.group(1))
                    end = min(int(m.group(2)) if m.group(2) else len(body) - 1, len(body) - 1)
                    status = 206
                chunk = body[start:end + 1]
                self.send_response(status)
                self.send_header("Content-Length", str(len(chunk)))
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(body)}")
                self.end_headers()
                if not head:
                    self.wfile.write(chunk)
                    origin.bytes_sent += len(chunk)

            def do_GET(self):
                self._reply(False)

            def do_HEAD(self):
                self._reply(True)

        self._server = serve_http(Handler)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
