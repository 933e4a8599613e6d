"""A real HTTP server serving in-memory blobs by path with ``Range: bytes=s-e`` (206), 404 for
unknown paths; records the request headers it saw. Used to serve wrapped CDN files to the
piece fetcher."""
from __future__ import annotations

import re
from http.server import BaseHTTPRequestHandler

from tests.helpers import serve_http

_RANGE = re.compile(r"^bytes=(\d+)-(\d+)$")


class BlobServer:
    def __init__(self, blobs: dict[str, bytes]):
        self.blobs = dict(blobs)
        self.seen: list[dict] = []
        srv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                srv.seen.append({k: v for k, v in self.headers.items()})
                blob = srv.blobs.get(self.path)
                if blob is None:
                    return self._reply(404, b"not found")
                m = _RANGE.match(self.headers.get("Range", ""))
                if not m:
                    return self._reply(200, blob)
                start, end = int(m.group(1)), min(int(m.group(2)), len(blob) - 1)
                if start >= len(blob):
                    return self._reply(416, b"")
                return self._reply(206, blob[start:end + 1])

            def _reply(self, status, body):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = serve_http(Handler)
        self.port = self.httpd.server_address[1]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
