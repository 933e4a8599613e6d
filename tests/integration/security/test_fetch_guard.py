"""A real supernode process with the default fetch policy: task sources and preheats on loopback, link-local
or metadata addresses are refused with a 403 and counted; with ``--fetch-allow`` a loopback origin works,
and a redirect from an allowed origin to a refused address is refused at the hop."""
from __future__ import annotations

import re
import subprocess
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from tests.fixtures.origin import OriginServer, make_file
from tests.fixtures.supernode_config import PreheatSupernode
from tests.helpers import free_port, script, serve_http, wait_port


def _register(sn_url, url):
    body = {"rawUrl": url, "taskUrl": url, "cid": "10.0.0.1-1-1.000", "ip": "10.0.0.1", "hostName": "h1",
            "port": 15001, "path": "/peer/file/x", "version": "1.0.6", "callSystem": "t", "superNodeIp": "127.0.0.1"}
    return requests.post(sn_url + "/peer/registry", json=body, timeout=(5, 30))


def _refused(sn_url) -> dict:
    text = requests.get(sn_url + "/metrics", timeout=5).text
    return {m.group(1): float(m.group(2)) for m in
            re.finditer(r'^dragonfly_supernode_fetch_refused_total\{reason="(\w+)"\} (\S+)$', text, re.M)}


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    root = tmp_path_factory.mktemp("origin")
    make_file(str(root / "f.bin"), 1 << 20, seed=3)
    srv = OriginServer(str(root)).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """The default policy: nothing allowed beyond the built-in rules."""
    sn = PreheatSupernode(tmp_path_factory.mktemp("sn-strict"), base={"fetch": {}}).start()
    yield sn
    sn.stop()


def test_loopback_source_is_refused_with_403_and_counted(strict, origin):
    r = _register(strict.url, origin.url("f.bin"))
    assert r.status_code == 403, r.text
    assert r.json()["code"] == 501 and "fetch.allow" in r.json()["message"]
    assert origin.requests == {} or sum(origin.requests.values()) == 0
    assert _refused(strict.url).get("loopback", 0) >= 1


@pytest.mark.parametrize("host", ["169.254.169.254", "[fd00:ec2::254]"])
def test_metadata_sources_and_preheats_are_refused(strict, host):
    url = f"http://{host}/latest/meta-data/iam/"
    before = _refused(strict.url).get("metadata", 0)
    r = _register(strict.url, url)
    assert r.status_code == 403 and "metadata" in r.json()["message"]
    r = requests.post(strict.url + "/preheats", json={"type": "file", "url": url}, timeout=(5, 30))
    assert r.status_code == 403, r.text
    r = requests.post(strict.url + "/preheats", json={"type": "image", "url": f"http://{host}/v2/a/manifests/1"},
                      timeout=(5, 30))
    assert r.status_code == 403, r.text
    assert _refused(strict.url)["metadata"] == before + 3
    assert "Traceback" not in strict.log_tail(200000)


def test_allowed_loopback_origin_works_and_a_redirect_to_a_refused_host_is_refused(tmp_path, origin):
    target = origin.url("f.bin")

    class Redirect(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

    hop = serve_http(Redirect, host="127.0.0.2")
    sn = PreheatSupernode(tmp_path / "sn", base={"fetch": {"allow": ["127.0.0.2"]}}).start()
    try:
        r = _register(sn.url, f"http://127.0.0.2:{hop.server_address[1]}/f.bin")
        assert r.status_code == 403 and "127.0.0.1" in r.json()["message"], r.text
        assert sum(origin.requests.values()) == 0
    finally:
        sn.stop()
        hop.shutdown()
    # the flag: loopback allowed, the registration works
    api, dl = free_port(), free_port()
    proc = subprocess.Popen([script("supernode"), "--port", str(api), "--download-port", str(dl), "--home-dir",
                             str(tmp_path / "sn2"), "--listen-ip", "127.0.0.1", "--fetch-allow", "127.0.0.0/8,::1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_port(api)
        r = _register(f"http://127.0.0.1:{api}", target)
        assert r.status_code == 200 and r.json()["code"] == 200, r.text
    finally:
        proc.terminate()
        proc.wait(30)


def test_bad_fetch_entries_stop_the_start_with_exit_2(tmp_path):
    r = subprocess.run([script("supernode"), "--home-dir", str(tmp_path), "--fetch-allow", "bad host!"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "fetch.allow" in r.stderr and "Traceback" not in r.stderr
