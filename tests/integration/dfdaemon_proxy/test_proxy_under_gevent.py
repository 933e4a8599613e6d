"""The proxy in a monkey-patched process (one hub): a request waiting on its upstream does not
stop the server from serving others, through plain forwarding and through interception."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from tests.helpers import free_port, wait_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture
def proxy_process(tmp_path):
    procs = []

    def start(config: dict):
        port = free_port()
        env = dict(os.environ, PYTHONPATH=REPO)
        log = open(tmp_path / f"proxy-{port}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "tests.integration.dfdaemon_proxy.proxy_process", str(port),
                                 json.dumps(config)], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append((proc, log))
        wait_port(port)
        return f"http://127.0.0.1:{port}"

    yield start
    for proc, log in procs:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _held_and_released(origin, client, hold_url, release_url, **kw):
    """GET /hold, wait until the origin has it, then GET /release through the same proxy."""
    results = {}

    def hold():
        results["hold"] = client.get(hold_url, timeout=30, **kw)

    t = threading.Thread(target=hold)
    t.start()
    try:
        deadline = time.monotonic() + 15
        while not any(r["path"] == "/hold" for r in origin.seen) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert any(r["path"] == "/hold" for r in origin.seen), "the held request never reached the origin"
        released = client.get(release_url, timeout=15, **kw)
    finally:
        t.join(30)
    return results["hold"], released


def test_waiting_forward_does_not_block_the_hub(proxy_process, http_origin, client):
    url = proxy_process({})
    held, released = _held_and_released(http_origin, client, http_origin.url("/hold"), http_origin.url("/release"),
                                        proxies={"http": url})
    assert released.status_code == 200 and held.status_code == 200
    assert held.json()["released"] is True


def test_waiting_intercepted_request_does_not_block_the_hub(proxy_process, https_origin, proxy_ca, client):
    crt, key = proxy_ca
    url = proxy_process({"hijack_https": {"cert": crt, "key": key,
                                          "hosts": [{"regx": "^localhost:", "certs": [https_origin.ca_path]}]}})
    held, released = _held_and_released(https_origin, client, https_origin.url("/hold", host="localhost"),
                                        https_origin.url("/release", host="localhost"),
                                        proxies={"https": url}, verify=crt)
    assert released.status_code == 200 and held.json()["released"] is True
