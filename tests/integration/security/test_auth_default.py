"""The safe default: a supernode process whose API binds every address and has no auth configured turns auth
on with a generated key (0600) and an admin token (0600), says so once, keeps the peer protocol working with
task-scoped piece tokens, and refuses the admin surface without a token; ``--auth none`` turns it off."""
from __future__ import annotations

import hashlib
import os
import stat
import subprocess

import requests

from dfcommon.task_id import task_id
from tests.e2e.p2p_stack import run_dfget, stop_upload_servers
from tests.fixtures.origin import OriginServer, make_file
from tests.helpers import free_port, script, wait_port

ALLOW = ["--fetch-allow", "127.0.0.0/8,::1"]


def _start(home, *extra):
    api, dl = free_port(), free_port()
    log = open(os.path.join(str(home) + ".log"), "ab")
    proc = subprocess.Popen([script("supernode"), "--home-dir", str(home), "--port", str(api), "--download-port",
                             str(dl), "--listen-ip", "0.0.0.0", "--advertise-ip", "127.0.0.1", *ALLOW, *extra],
                            stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    try:
        wait_port(api, timeout=30)
        wait_port(dl, timeout=30)
    except TimeoutError:
        proc.kill()
        raise AssertionError(open(str(home) + ".log").read()) from None
    return proc, api, dl


def _stop(proc):
    proc.terminate()
    proc.wait(30)


def test_auth_turns_on_off_loopback_with_a_generated_key(tmp_path):
    (tmp_path / "o").mkdir()
    digest = make_file(str(tmp_path / "o" / "f.bin"), 3 << 20, seed=11)
    origin = OriginServer(str(tmp_path / "o")).start()
    home = tmp_path / "sn"
    proc, api, dl = _start(home)
    url = f"http://127.0.0.1:{api}"
    client = str(tmp_path / "client")
    try:
        key, token_file = home / "auth" / "signing.key", home / "auth" / "admin.token"
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
        token = token_file.read_text().strip()
        notice = open(str(home) + ".log").read()
        assert "auth is ON" in notice and str(key) in notice and str(token_file) in notice
        assert token not in notice and key.read_text().split("\n")[1] not in notice
        # the admin surface needs a token
        body = {"type": "file", "url": origin.url("f.bin")}
        r = requests.post(url + "/preheats", json=body, timeout=(5, 30))
        assert r.status_code == 401 and "role preheat" in r.text, r.text
        assert requests.get(url + "/api/v1/peers", timeout=5).status_code == 401
        assert requests.get(url + "/api/v1/peers", headers={"Authorization": f"Bearer {token}"},
                            timeout=5).status_code == 200
        keys = requests.get(url + "/api/v1/auth/keys", timeout=5).json()
        assert keys["enabled"] is True and keys["keys"]
        # peers keep working without a token: registration is open, pieces carry task-scoped tokens
        out = tmp_path / "f.out"
        r = run_dfget(origin.url("f.bin"), str(out), client, [f"127.0.0.1:{api}"], ["--notbs"])
        assert r.returncode == 0, r.stdout + r.stderr
        assert hashlib.sha256(out.read_bytes()).hexdigest() == digest
        # a piece request to the piece server without a token gets nothing
        tid = task_id(origin.url("f.bin"), "")
        r = requests.get(f"http://127.0.0.1:{dl}/download/{tid[:3]}/{tid}", headers={"Range": "bytes=0-99"}, timeout=5)
        assert r.status_code == 401 and len(r.content) < 200
    finally:
        _stop(proc)
        stop_upload_servers(client)
    # a restart keeps the key and says nothing new
    size = os.path.getsize(str(home) + ".log")
    before = (home / "auth" / "signing.key").read_bytes()
    proc, api, _ = _start(home)
    try:
        assert (home / "auth" / "signing.key").read_bytes() == before
        assert "auth is ON" not in open(str(home) + ".log").read()[size:]
        assert requests.get(f"http://127.0.0.1:{api}/api/v1/peers", timeout=5).status_code == 401
        assert requests.get(f"http://127.0.0.1:{api}/api/v1/peers", timeout=5,
                            headers={"Authorization": f"Bearer {token}"}).status_code == 200
    finally:
        _stop(proc)
        origin.stop()


def test_auth_none_turns_it_off_and_interop_drops_piece_tokens(tmp_path):
    proc, api, _ = _start(tmp_path / "sn-none", "--auth", "none")
    try:
        assert requests.get(f"http://127.0.0.1:{api}/api/v1/peers", timeout=5).status_code == 200
        assert not (tmp_path / "sn-none" / "auth" / "signing.key").exists()     # (the webhook secret is separate)
    finally:
        _stop(proc)
    cfg = tmp_path / "interop.yml"
    cfg.write_text("auth:\n  interop: true\n")
    proc, api, _ = _start(tmp_path / "sn-interop", "--config", str(cfg))
    try:
        assert requests.get(f"http://127.0.0.1:{api}/api/v1/peers", timeout=5).status_code == 401
        keys = requests.get(f"http://127.0.0.1:{api}/api/v1/auth/keys", timeout=5).json()
        assert keys["keys"] == []          # upload servers then serve Dragonfly 1.x peers without tokens
    finally:
        _stop(proc)


def test_unwritable_home_refuses_the_start_naming_the_settings(tmp_path):
    home = tmp_path / "ro"
    home.mkdir()
    (home / "auth").write_text("a file where the key directory would go")
    r = subprocess.run([script("supernode"), "--home-dir", str(home), "--port", str(free_port()),
                        "--download-port", str(free_port()), "--listen-ip", "0.0.0.0"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert "auth.signing_key" in r.stderr and "auth.mode: none" in r.stderr and "Traceback" not in r.stderr


def test_loopback_bind_keeps_auth_off(tmp_path):
    api, dl = free_port(), free_port()
    proc = subprocess.Popen([script("supernode"), "--home-dir", str(tmp_path), "--port", str(api),
                             "--download-port", str(dl), "--listen-ip", "127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(api, timeout=30)
        assert requests.get(f"http://127.0.0.1:{api}/api/v1/peers", timeout=5).status_code == 200
        assert not (tmp_path / "auth").exists()
    finally:
        _stop(proc)
