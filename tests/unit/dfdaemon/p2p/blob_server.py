"""A real HTTP server serving in-memory blobs by path with ``Range: bytes=s-e`` (206), 404 for
unknown paths; records the request headers it saw. Used to serve wrapped CDN files to the
piece fetcher."""
from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
