"""Supernode -> origin over TLS with a private CA: a real supernode process fetches a task from an https origin
whose certificate only the given CA trusts (dfget --cacerts, rootCAs of the registration); without that CA the
fetch fails and no output file is written."""
from __future__ import annotations

import hashlib
import os
import ssl
from http.server import BaseHTTPRequestHandler

from dfdaemon.proxy.certs import cert_pem, generate_ca, issue_leaf, key_pem
from tests.e2e.p2p_stack import SupernodeProcess, run_dfget, stop_upload_servers
from tests.helpers import serve_http


def _tls_origin(tmp_path, data: bytes):
    ca_key, ca = generate_ca("test origin CA", 2)
    key, leaf = issue_leaf(ca_key, ca, "127.0.0.1")
    (tmp_path / "ca.pem").write_bytes(cert_pem(ca))
    (tmp_path / "leaf.pem").write_bytes(cert_pem(leaf))
    (tmp_path / "leaf.key").write_bytes(key_pem(key))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(tmp_path / "leaf.pem"), str(tmp_path / "leaf.key"))

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = serve_http(H, ssl_context=ctx)
    return srv, f"https://127.0.0.1:{srv.server_address[1]}/blob", str(tmp_path / "ca.pem")


def test_supernode_fetches_an_https_origin_with_a_private_ca(tmp_path):
    data = os.urandom(3 << 20)
    srv, url, ca = _tls_origin(tmp_path, data)
    sn = SupernodeProcess(str(tmp_path / "sn"))
    home = str(tmp_path / "client")
    try:
        out = tmp_path / "ok.out"
        r = run_dfget(url, str(out), home, [sn.node], ["--notbs", "--cacerts", ca])
        assert r.returncode == 0, r.stdout + r.stderr
        assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(data).digest()
        assert sn.metrics().get("dragonfly_supernode_cdn_download_total", 0) >= 1
        # without the CA: the origin's certificate is not trusted anywhere, the download fails
        bad = tmp_path / "bad.out"
        r = run_dfget(url + "?other", str(bad), str(tmp_path / "client2"), [sn.node], ["--notbs"])
        assert r.returncode != 0
        assert not bad.exists()
        assert "Traceback" not in r.stdout + r.stderr
    finally:
        sn.stop()
        stop_upload_servers(home)
        stop_upload_servers(str(tmp_path / "client2"))
        srv.shutdown()
