"""Real servers for the proxy tests: the proxy on a gevent WSGIServer, an echoing HTTP(S) origin,
a TCP echo server, and certificate files made on the spot."""
from __future__ import annotations

import hashlib
import json
import os
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler

import gevent
from gevent.pywsgi import WSGIServer

from dfdaemon.proxy.certs import cert_pem, generate_ca, issue_leaf, key_pem
from tests.helpers import free_port, serve_http, wait_port


def mirror_app(environ, start_response):
    """Stands in for the registry mirror behind the handler: names the path it got."""
    body = f"mirror:{environ['PATH_INFO']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


class ProxyServerThread:
    """A gevent WSGIServer with the proxy handler in a thread with its own hub; stopped through that hub."""

    def __init__(self, proxy, app=mirror_app):
        self.proxy, self.app = proxy, app
        self.port = free_port()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        self.hub = gevent.get_hub()
        self.server = WSGIServer(("127.0.0.1", self.port), self.app, handler_class=self.proxy.handler_class(),
                                 log=None, error_log=None)
        self.server.start()
        self._ready.set()
        self.server.serve_forever()

    def start(self):
        self._thread.start()
        self._ready.wait(10)
        wait_port(self.port)
        return self

    def stop(self):
        self.hub.loop.run_callback_threadsafe(lambda: gevent.spawn(self.server.stop, timeout=1))
        self._thread.join(10)
        self.proxy.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class EchoOrigin:
    """HTTP(S) origin that answers with what it received; ``/bytes/<n>`` streams n bytes;
    ``/multi`` answers with repeated headers; ``/redirect`` answers 302; ``/hold`` waits (20 s at
    most) until a request for ``/release`` arrives."""

    def __init__(self, context: ssl.SSLContext | None = None, host: str = "127.0.0.1"):
        self.seen: list[dict] = []
        self.released = threading.Event()
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = self._read_chunked()
                else:
                    body = self.rfile.read(length) if length else b""
                record = {"method": self.command, "path": self.path, "headers": list(self.headers.items()),
                          "body_len": len(body), "body_sha256": hashlib.sha256(body).hexdigest()}
                origin.seen.append(record)
                if self.path == "/release":
                    origin.released.set()
                if self.path == "/hold":
                    record["released"] = origin.released.wait(20)
                if self.path.startswith("/bytes/"):
                    n = int(self.path.split("/")[2])
                    self.send_response(200)
                    self.send_header("Content-Length", str(n))
                    self.end_headers()
                    if self.command != "HEAD":
                        block = bytes(range(256)) * 4096
                        left = n
                        while left:
                            self.wfile.write(block[:min(left, len(block))])
                            left -= min(left, len(block))
                    return
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "/elsewhere")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                out = json.dumps(record).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                if self.path == "/multi":
                    self.send_header("X-Multi", "one")
                    self.send_header("X-Multi", "two")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(out)

            def _read_chunked(self):
                data = b""
                while True:
                    size = int(self.rfile.readline().strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _handle

        self.httpd = serve_http(Handler, host, ssl_context=context)
        self.port = self.httpd.server_address[1]
        self.scheme = "https" if context else "http"

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class TcpEcho:
    """A plain TCP echo server (each connection echoes until the peer half-closes)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)

    def stop(self):
        self.sock.close()


def write_ca(directory, name: str, cn: str, days: int = 30):
    """A CA key and certificate written as ``<name>.key`` / ``<name>.crt``; returns (key, cert, crt, key paths)."""
    key, cert = generate_ca(cn, days)
    crt_path, key_path = os.path.join(directory, f"{name}.crt"), os.path.join(directory, f"{name}.key")
    with open(crt_path, "wb") as fh:
        fh.write(cert_pem(cert))
    with open(key_path, "wb") as fh:
        fh.write(key_pem(key))
    return key, cert, crt_path, key_path


def origin_tls_context(directory, hosts=("localhost",)) -> tuple[ssl.SSLContext, str]:
    """A server context for a local HTTPS origin signed by its own self-signed CA; returns (context, CA file)."""
    ca_key, ca_cert, ca_path, _ = write_ca(directory, "origin-ca", "origin test CA")
    key, cert = issue_leaf(ca_key, ca_cert, hosts[0])
    chain = os.path.join(directory, "origin-leaf.pem")
    with open(chain, "wb") as fh:
        fh.write(cert_pem(cert) + key_pem(key))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain)
    return ctx, ca_path
