"""No secret in any log line or error body of a whole scenario run at DEBUG level, with real processes.

A supernode bound to every address (auth on by default: generated signing key, admin token and Harbor webhook
secret; a configured registry:2 webhook value; registry credentials for webhook preheats), a dfdaemon mirror
with a peer token in front of a real token-auth registry (credentials configured, and clients with their own
bearer tokens) and of a real htpasswd registry (credentials configured), both at DEBUG. The scenario: pulls
through P2P with a client token, with the configured token-registry credentials and with the configured Basic
credentials; a client with a wrong password; webhook deliveries with the right secret (a preheat with the
configured registry credentials) and with wrong ones; admin API calls with the admin token and with a forged
one; piece requests with forged and misdirected piece tokens at the supernode's piece server and the dfdaemon's
upload server. Then every log file of both processes and every error body is searched for every secret used,
and for anything shaped like a JWT (the piece tokens the supernode issued during the pulls are JWTs too)."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import time

import pytest
import requests

from dfcommon.tokens import TokenSigner, generate_key_pair, load_private_key
from tests.fixtures.oci_image import build_oci_image
from tests.e2e.p2p_stack import stop_upload_servers
from tests.fixtures.supernode_config import PreheatSupernode
from tests.helpers import script
from tests.integration.dfget.conftest import child_env
from tests.integration.dfdaemon.mirror_stack import DfdaemonProcess, sha256
from tests.integration.dfdaemon_access.access_env import basic, fetch_token
from tests.unit.webhooks.webhook_payloads import harbor_default

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

BASIC_USER, BASIC_PASSWORD = "sec-puller", "B4sic-Registry-Pw-91"
REGISTRY_HOOK = "Bearer Reg1stry-Hook-Secret-77"
WRONG_HOOK = "Bearer wrong-Hook-Secret-55"
URL_PASSWORD, URL_TOKEN, HEADER_TOKEN = "Url-Pa55word-66", "Query-Tok-88", "Preheat-Header-Tok-33"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


def _logs(*roots) -> dict[str, str]:
    out = {}
    for root in roots:
        for d, _, files in os.walk(root):
            for f in files:
                if f.endswith(".log") or ".log." in f:
                    with open(os.path.join(d, f), "rb") as fh:
                        out[os.path.join(d, f)] = fh.read().decode(errors="replace")
    return out


def _key_material(path: str) -> list[str]:
    """The base64 lines of a PEM file (any one of them in a log would be a leak)."""
    with open(path) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("-----")]


def test_a_whole_scenario_logs_no_secret(registry_token, token_server, registry_factory, tmp_path):
    token_server.permissions = {"": {}, "testuser": {"*": ["pull", "push"]}}     # nothing anonymous
    reg_basic = registry_factory(mode="htpasswd", users={BASIC_USER: BASIC_PASSWORD})
    img = build_oci_image(str(tmp_path / "img"), tag="v1", layers=2, layer_size=1 << 20, seed=91)
    registry_token.push(img, "sec/private")
    reg_basic.push(img, "sec/basic")
    sn = PreheatSupernode(tmp_path / "sn",
                          preheat={"registries": [{"host": reg_basic.host, "scheme": "http",
                                                   "username": BASIC_USER, "password": BASIC_PASSWORD}]},
                          webhooks={"registry_auth": [REGISTRY_HOOK]},
                          base={"listen_ip": "0.0.0.0", "log_level": "DEBUG", "debug": True}).start()
    bodies: list[str] = []
    d = None
    try:
        auth_dir = os.path.join(sn.home, "auth")
        admin = open(os.path.join(auth_dir, "admin.token")).read().strip()
        hook = open(os.path.join(auth_dir, "webhook.secret")).read().strip()
        signer = TokenSigner(load_private_key(open(os.path.join(auth_dir, "signing.key"), "rb").read()))
        forger = TokenSigner(load_private_key(generate_key_pair()[0]))
        peer_token = signer.mint("peer", "sec-host", 3600)
        d = DfdaemonProcess(str(tmp_path / "dfdaemon"), nodes=[sn.node], remote=registry_token.url,
                            registries=[{"url": registry_token.url, "username": "testuser", "password": "testpass"},
                                        {"url": reg_basic.url, "username": BASIC_USER, "password": BASIC_PASSWORD}],
                            extra={"supernode_token": peer_token})
        client_tokens = [fetch_token(token_server, "sec/private") for _ in range(2)]

        def get(url, headers=None, ok=True):
            r = requests.get(url, headers=headers or {}, timeout=120)
            if r.status_code >= 400:
                bodies.append(f"{r.status_code} {url} {dict(r.headers)} {r.text}")
            if ok:
                assert r.status_code == 200, (url, r.status_code, r.text[:300])
            return r

        # 1. pulls through P2P: a client's own bearer token, then no credentials (the configured ones are used)
        accept = {"Accept": img.manifest.media_type}
        layer = img.layers[0].digest
        get(f"{d.url}/v2/sec/private/manifests/v1", {**accept, "Authorization": f"Bearer {client_tokens[0]}"})
        r = get(f"{d.url}/v2/sec/private/blobs/{layer}", {"Authorization": f"Bearer {client_tokens[0]}"})
        assert sha256(r.content) == layer
        r = get(f"{d.url}/v2/sec/private/blobs/{img.layers[1].digest}")
        assert sha256(r.content) == img.layers[1].digest
        get(f"{d.url}/v2/sec/basic/manifests/v1?ns={reg_basic.host}", accept)
        for b in img.layers:
            assert sha256(get(f"{d.url}/v2/sec/basic/blobs/{b.digest}?ns={reg_basic.host}").content) == b.digest
        assert d.metric("dragonfly_dfdaemon_blob_bytes_total", source="p2p") > 0
        # refused clients: a wrong password, a forged-looking token
        r = get(f"{d.url}/v2/sec/basic/blobs/{layer}?ns={reg_basic.host}",
                {"Authorization": basic(BASIC_USER, "Not-The-Pw-3")}, ok=False)
        assert r.status_code == 401
        r = get(f"{d.url}/v2/sec/private/blobs/{layer}", {"Authorization": "Bearer opaque-Client-Secret-12"},
                ok=False)
        assert r.status_code == 401

        # 2. webhooks: the right secret queues a preheat (fetched with the configured credentials), wrong ones 401
        digest = "sha256:" + hashlib.sha256(img.manifest_bytes).hexdigest()
        event = harbor_default("sec/basic", digest, "v1", host=reg_basic.host)
        post = lambda path, body, value: requests.post(
            sn.url + path, data=json.dumps(body), timeout=30,
            headers={"Content-Type": "application/json", **({"Authorization": value} if value else {})})
        r = post("/api/v1/webhooks/harbor", event, f"Bearer {hook}")
        assert r.status_code == 202, r.text
        for path, value in (("/api/v1/webhooks/harbor", WRONG_HOOK), ("/api/v1/webhooks/harbor", hook),
                            ("/api/v1/webhooks/registry", WRONG_HOOK),
                            ("/api/v1/webhooks/registry", f"Bearer {hook}")):
            r = post(path, event, value)
            assert r.status_code == 401, (path, r.status_code)
            bodies.append(f"{r.status_code} {path} {dict(r.headers)} {r.text}")

        # 3. admin API: the admin token works, a forged admin token and a peer token do not
        admin_h = {"Authorization": f"Bearer {admin}"}
        deadline = time.monotonic() + 120
        while True:
            recs = [x for x in requests.get(sn.url + "/api/v1/preheats", headers=admin_h, timeout=30).json()
                    if x["type"] == "image"]
            if (recs and all(x["status"] in ("SUCCESS", "FAILED") for x in recs)) or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert [x["status"] for x in recs] == ["SUCCESS"], recs
        for token in (forger.mint("admin", "evil", 600), peer_token):
            r = requests.get(sn.url + "/api/v1/peers", headers={"Authorization": f"Bearer {token}"}, timeout=30)
            assert r.status_code in (401, 403)
            bodies.append(f"{r.status_code} /api/v1/peers {dict(r.headers)} {r.text}")

        # 4. piece tokens refused: forged, another task, an API token, at the piece server and the upload server
        tid = "a" * 64
        piece_tokens = [forger.peer_token(tid, "evil", "supernode", 600),
                        signer.peer_token("b" * 64, "evil", "supernode", 600), admin]
        for token in piece_tokens:
            for url in (f"http://127.0.0.1:{sn.download_port}/download/{tid[:3]}/{tid}",
                        f"http://127.0.0.1:{d.peer_port}/peer/file/{tid}"):
                r = requests.get(url, headers={"Authorization": f"Bearer {token}", "Range": "bytes=0-99",
                                                  "pieceNum": "0", "pieceSize": "100"},
                                 timeout=30)
                assert r.status_code in (401, 403, 404), (url, r.status_code, r.text[:200])
                bodies.append(f"{r.status_code} {url} {dict(r.headers)} {r.text}")

        # 5. secrets in what clients send the supernode: a refused preheat whose URL and headers carry
        # credentials, an accepted one with a Basic header, and a dfget pulling a private blob with --header
        refused = {"type": "file", "url": f"http://puller:{URL_PASSWORD}@169.254.169.254/latest?token={URL_TOKEN}",
                   "headers": {"Authorization": f"Bearer {HEADER_TOKEN}"}}
        r = requests.post(sn.url + "/api/v1/preheats", json=refused, headers=admin_h, timeout=30)
        assert r.status_code == 403, r.text
        bodies.append(f"{r.status_code} preheat {dict(r.headers)} {r.text}")
        blob_url = f"{reg_basic.url}/v2/sec/basic/blobs/{img.layers[1].digest}"
        r = requests.post(sn.url + "/api/v1/preheats", headers=admin_h, timeout=30,
                          json={"type": "file", "url": blob_url,
                                "headers": {"Authorization": basic(BASIC_USER, BASIC_PASSWORD)}})
        assert r.status_code in (201, 208), r.text
        listing = requests.get(sn.url + "/api/v1/preheats", headers=admin_h, timeout=30)
        bodies.append(f"preheat listing {listing.text}")
        home = tmp_path / "dfget-home"
        run = subprocess.run([script("dfget"), "-u", blob_url, "-o", str(tmp_path / "out.bin"), "-n", sn.node,
                              "--home", str(home), "--alivetime", "5s", "--header",
                              f"Authorization: {basic(BASIC_USER, BASIC_PASSWORD)}", "--verbose"],
                             capture_output=True, text=True, timeout=120, env=child_env())
        assert run.returncode == 0, run.stdout + run.stderr
        assert sha256(open(tmp_path / "out.bin", "rb").read()) == img.layers[1].digest
        bodies.append(f"dfget output {run.stdout} {run.stderr}")
    finally:
        stop_upload_servers(str(tmp_path / "dfget-home"))
        if d is not None:
            d.stop()
        sn.stop()
        reg_basic.stop()

    secrets = {"admin token": admin, "webhook secret": hook, "registry webhook value": REGISTRY_HOOK.split()[1],
               "wrong webhook value": WRONG_HOOK.split()[1], "peer token": peer_token,
               "registry password": BASIC_PASSWORD, "wrong password": "Not-The-Pw-3",
               "token server password": "testpass", "opaque client token": "opaque-Client-Secret-12",
               "basic credentials": base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode(),
               "wrong basic credentials": base64.b64encode(f"{BASIC_USER}:Not-The-Pw-3".encode()).decode(),
               "token server credentials": base64.b64encode(b"testuser:testpass").decode()}
    secrets.update({f"client token {i}": t for i, t in enumerate(client_tokens)})
    secrets.update({f"piece token {i}": t for i, t in enumerate(piece_tokens)})
    secrets.update({f"signing key line {i}": line
                    for i, line in enumerate(_key_material(os.path.join(auth_dir, "signing.key")))})
    secrets.update({"password in a URL": URL_PASSWORD, "token in a query": URL_TOKEN,
                    "preheat header token": HEADER_TOKEN})
    logs = _logs(sn.workdir, d.home, str(tmp_path / "dfget-home"))
    assert any("sn" in p for p in logs) and any("dfdaemon" in p for p in logs), list(logs)
    assert sum(text.count(" DEBUG ") + text.count('"DEBUG"') + text.count("level=DEBUG")
               for text in logs.values()) > 0, "no DEBUG line was written"
    everything = "\n".join(logs.values())
    for line in ("webhook rejected", "piece request refused", "access decided", "fetch refused",
                 "api request refused", "preheat success"):
        assert line in everything, f"the logs do not show the scenario ran: no {line!r}"
    leaks = []
    for where, text in [*logs.items(), *((f"error body {i}", b) for i, b in enumerate(bodies))]:
        for name, value in secrets.items():
            if value and value in text:
                line = next(ln for ln in text.splitlines() if value in ln)
                leaks.append(f"{name} in {where}: {line[:300]}")
        for m in JWT.finditer(text):
            line = next(ln for ln in text.splitlines() if m.group(0) in ln)
            leaks.append(f"a JWT in {where}: {line[:300]}")
    assert not leaks, "\n".join(leaks[:40])
