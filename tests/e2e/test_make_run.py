"""`make run`'s stack (scripts/run_stack.py) starts, serves a dfget download, and stops cleanly on Ctrl-C."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys

import pytest
import requests

from tests.e2e.p2p_stack import run_dfget, stop_upload_servers
from tests.fixtures.origin import OriginServer, make_file
from tests.helpers import free_port, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytestmark = pytest.mark.slow


def test_run_stack_serves_a_download_and_stops_on_ctrl_c(tmp_path):
    (tmp_path / "o").mkdir()
    digest = make_file(str(tmp_path / "o" / "f.bin"), 6 << 20, seed=7)
    origin = OriginServer(str(tmp_path / "o")).start()
    sn_port, dl_port = free_port(), free_port()
    env = dict(os.environ, DFPY_RUN_DIR=str(tmp_path / "run"), SUPERNODE_PORT=str(sn_port),
               SUPERNODE_DOWNLOAD_PORT=str(dl_port), DFDAEMON_PORT=str(free_port()),
               DFGET_SERVER_PORT=str(free_port()))
    stack = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "run_stack.py")], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    home = str(tmp_path / "client")
    try:
        wait_port(sn_port, timeout=30)
        assert requests.get(f"http://127.0.0.1:{sn_port}/_ping", timeout=5).text.strip() == "OK"
        out = tmp_path / "f.out"
        r = run_dfget(origin.url("f.bin"), str(out), home, [f"127.0.0.1:{sn_port}"], ["--notbs"])
        assert r.returncode == 0, r.stdout + r.stderr
        assert hashlib.sha256(out.read_bytes()).hexdigest() == digest
    finally:
        stack.send_signal(signal.SIGINT)
        output, _ = stack.communicate(timeout=60)
        stop_upload_servers(home)
        origin.stop()
    assert stack.returncode == 0, output
    assert "supernode stopped" in output
