"""Certificate reload on SIGHUP: a real supernode process with TLS on its listeners gets new certificate files
and SIGHUP; a connection opened before keeps working (its TLS session is untouched), new connections get the
new certificate, and a broken pair keeps the old one."""
from __future__ import annotations

import http.client
import os
import signal
import socket
import ssl
import subprocess
import time

from dfdaemon.proxy.certs import cert_pem, generate_ca, issue_leaf, key_pem
from tests.helpers import free_port, script, wait_port


def _pair(tmp_path, name):
    ca_key, ca = generate_ca(f"{name} CA", 2)
    key, leaf = issue_leaf(ca_key, ca, "127.0.0.1")
    (tmp_path / f"{name}-ca.pem").write_bytes(cert_pem(ca))
    return cert_pem(leaf), key_pem(key), str(tmp_path / f"{name}-ca.pem")


def _serial(port, ca):
    ctx = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        return s.getpeercert()["serialNumber"]


def _trusted(port, ca) -> bool:
    try:
        _serial(port, ca)
        return True
    except ssl.SSLError:
        return False


def test_sighup_reloads_the_certificate_without_dropping_connections(tmp_path):
    cert1, key1, ca1 = _pair(tmp_path, "old")
    cert2, key2, ca2 = _pair(tmp_path, "new")
    cert, key = tmp_path / "sn.pem", tmp_path / "sn.key"
    cert.write_bytes(cert1)
    key.write_bytes(key1)
    cfg = tmp_path / "sn.yml"
    cfg.write_text(f"auth:\n  tls_cert: {cert}\n  tls_key: {key}\n")
    api, dl = free_port(), free_port()
    log = open(tmp_path / "sn.log", "ab")
    proc = subprocess.Popen([script("supernode"), "--config", str(cfg), "--home-dir", str(tmp_path / "home"),
                             "--port", str(api), "--download-port", str(dl), "--listen-ip", "127.0.0.1"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_port(api, timeout=30)
        assert _trusted(api, ca1) and not _trusted(api, ca2)
        kept = http.client.HTTPSConnection("127.0.0.1", api, context=ssl.create_default_context(cafile=ca1),
                                           timeout=5)
        kept.request("GET", "/_ping")
        assert kept.getresponse().read().strip() == b"OK"
        cert.write_bytes(cert2)
        key.write_bytes(key2)
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while not _trusted(api, ca2) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _trusted(api, ca2) and not _trusted(api, ca1)
        assert _trusted(dl, ca2)                         # the piece server shares the context
        kept.request("GET", "/_ping")                    # the connection opened before is still served
        assert kept.getresponse().read().strip() == b"OK"
        kept.close()
        # a broken pair: the old (new) certificate stays
        key.write_bytes(key1)
        proc.send_signal(signal.SIGHUP)
        time.sleep(1)
        assert proc.poll() is None and _trusted(api, ca2)
        assert "tls reload failed" in (tmp_path / "sn.log").read_text()
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
