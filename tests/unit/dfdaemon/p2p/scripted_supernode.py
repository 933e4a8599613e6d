"""A FAKE supernode: a real HTTP server whose replies to the legacy endpoints are scripted by
the test. It exists because the real supernode cannot be made to answer 609 (WaitAuth), 608 or
an HTTP 500 on demand; it records every request (path, query, JSON body)."""
from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.helpers import serve_http


class ScriptedSupernode:
    def __init__(self, script: dict[str, list]):
        """``script[path]`` is a list of (http_status, body[, delay_s]) replies, the last one repeating."""
        self.script = {k: list(v) for k, v in script.items()}
        self.calls: list[tuple[str, dict, dict | None]] = []
        srv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _handle(self):
                parts = urlsplit(self.path)
                body = None
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    body = json.loads(self.rfile.read(n))
                srv.calls.append((parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}, body))
                replies = srv.script.get(parts.path) or [(404, {"code": 404, "message": "no route"})]
                status, reply, *delay = replies.pop(0) if len(replies) > 1 else replies[0]
                if delay:                               # (status, body, seconds): a reply held that long
                    time.sleep(delay[0])
                raw = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = _handle

        self.httpd = serve_http(Handler)
        self.port = self.httpd.server_address[1]
        self.node = f"127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        return [c[0] for c in self.calls]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def ok_register(task_id="t" * 64, length=100, piece_size=4 << 20, report_in_pull=False):
    data = {"taskId": task_id, "fileLength": length, "pieceSize": piece_size, "cdnSource": "supernode"}
    if report_in_pull:
        data["reportInPull"] = True
    return 200, {"code": 200, "msg": "success", "data": data}
