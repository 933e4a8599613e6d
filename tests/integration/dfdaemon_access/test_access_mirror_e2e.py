"""Private layers through real processes: a supernode, a dfdaemon mirror and real registries.

(3) A private blob already cached on the host is refused, without one byte of it, to clients with no token,
an expired token, a token for another repository or a garbage token; a client with a valid token gets it from
the cache without the registry serving it again. (4) A Basic-auth registry whose credentials live only in the
dfdaemon config: a pull through the mirror works and the credentials appear in no log line of either process.
"""
import base64
import os

import pytest
import requests

from tests.e2e.p2p_stack import SupernodeProcess
from tests.fixtures.oci_image import build_oci_image, read_blob
from tests.integration.dfdaemon.mirror_stack import DfdaemonProcess, sha256

from .access_env import expired_token, fetch_token

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

PRIVATE = "e2e/private"
OTHER = "e2e/other"


@pytest.fixture
def supernode(tmp_path_factory):
    sn = SupernodeProcess(str(tmp_path_factory.mktemp("acc-supernode")), extra_args=("--debug",))
    yield sn
    sn.stop()


@pytest.fixture
def mirror(tmp_path_factory):
    started = []

    def make(**kw) -> DfdaemonProcess:
        d = DfdaemonProcess(str(tmp_path_factory.mktemp("acc-dfdaemon")), **kw)
        started.append(d)
        return d

    yield make
    for d in started:
        d.stop()


def full_gets(front, digest: str) -> int:
    """Whole-blob GETs the registry answered (the CDN's one-byte length probe, a 206, excluded)."""
    return sum(1 for q in front.requests
               if q.method == "GET" and q.path.endswith("/blobs/" + digest) and q.status == 200)


def _get(url, headers=None):
    return requests.get(url, headers=headers or {}, timeout=30)


def _refused(r, status, code, blob: bytes):
    assert r.status_code == status, (r.status_code, r.text[:200])
    assert r.json()["errors"][0]["code"] == code
    assert blob[:256] not in r.content and len(r.content) < 2048


@pytest.mark.parametrize("verify_signatures", [False, True])
def test_cached_private_blob_is_served_only_to_allowed_clients(registry_token, token_server, counting_front,
                                                               supernode, mirror, tmp_path, verify_signatures):
    token_server.permissions = {"": {}, "testuser": {"*": ["pull", "push"]}}      # nothing is anonymous
    img = build_oci_image(str(tmp_path / "img"), tag="v1", layers=1, layer_size=1 << 20, seed=81)
    registry_token.push(img, PRIVATE)
    registry_token.push(build_oci_image(str(tmp_path / "other"), tag="v1", layers=1, layer_size=4096, seed=82),
                        OTHER)
    front = counting_front(registry_token)
    registries = [{"url": front.url, "token_cert": token_server.cert_path}] if verify_signatures else []
    host = mirror(nodes=[supernode.node], remote=front.url, registries=registries)
    layer = img.layers[0].digest
    blob = read_blob(img, layer)
    url = f"{host.url}/v2/{PRIVATE}/blobs/{layer}"

    # a client with a valid token warms the host's cache: the origin serves the blob once
    valid = {"Authorization": f"Bearer {fetch_token(token_server, PRIVATE)}"}
    r = _get(url, valid)
    assert r.status_code == 200 and r.content == blob
    assert full_gets(front, layer) == 1

    _refused(_get(url), 401, "UNAUTHORIZED", blob)
    r = _get(url)
    assert "Bearer realm=" in r.headers["WWW-Authenticate"] and token_server.realm in r.headers["WWW-Authenticate"]
    _refused(_get(url, {"Authorization": f"Bearer {expired_token(token_server, PRIVATE)}"}), 401,
             "UNAUTHORIZED", blob)
    _refused(_get(url, {"Authorization": f"Bearer {fetch_token(token_server, OTHER)}"}), 403, "DENIED", blob)
    _refused(_get(url, {"Authorization": "Bearer garbage.not-a-token"}), 401, "UNAUTHORIZED", blob)
    _refused(_get(url, {"Authorization": "Basic " + base64.b64encode(b"testuser:wrong").decode()}), 401,
             "UNAUTHORIZED", blob)
    # a token for another repository, asking for the private layer through that repository
    other = {"Authorization": f"Bearer {fetch_token(token_server, OTHER)}"}
    _refused(_get(f"{host.url}/v2/{OTHER}/blobs/{layer}", other), 404, "BLOB_UNKNOWN", blob)
    r = requests.head(url, timeout=30)
    assert r.status_code == 401 and not r.content

    # another client with its own valid token: served from the cache, the registry serves nothing more
    fresh = {"Authorization": f"Bearer {fetch_token(token_server, PRIVATE)}"}
    for _ in range(2):
        r = _get(url, fresh)
        assert r.status_code == 200 and sha256(r.content) == layer
    assert full_gets(front, layer) == 1


def _log_text(path: str) -> str:
    with open(path, "rb") as f:
        return f.read().decode(errors="replace")


def test_basic_registry_with_credentials_only_in_the_dfdaemon_config(registry_factory, counting_front, supernode,
                                                                    mirror, tmp_path):
    user, password = "mirroruser", "Mirr0r-Only-S3cret"
    reg = registry_factory(mode="htpasswd", users={user: password})
    img = build_oci_image(str(tmp_path / "img"), tag="v1", layers=2, layer_size=512 << 10, seed=83)
    reg.push(img, "basic/private")
    front = counting_front(reg)
    host = mirror(nodes=[supernode.node], remote=front.url,
                  registries=[{"url": front.url, "username": user, "password": password}])

    # the client sends no credentials at all
    r = _get(f"{host.url}/v2/basic/private/manifests/v1", {"Accept": img.manifest.media_type})
    assert r.status_code == 200 and r.content == img.manifest_bytes
    for b in img.blobs:
        r = _get(f"{host.url}/v2/basic/private/blobs/{b.digest}")
        assert r.status_code == 200 and sha256(r.content) == b.digest
        assert full_gets(front, b.digest) == 1
    # the registry saw the configured credentials (so they were needed and used)
    basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    assert any(dict(q.headers).get("Authorization") == basic for q in front.requests)

    # a client with wrong credentials of its own is refused (its Authorization is what counts)
    r = _get(f"{host.url}/v2/basic/private/blobs/{img.layers[0].digest}",
             {"Authorization": "Basic " + base64.b64encode(f"{user}:nope".encode()).decode()})
    assert r.status_code == 401 and 'Basic realm=' in r.headers.get("WWW-Authenticate", "")

    host.stop()
    supernode.stop()
    secrets = [password, base64.b64encode(f"{user}:{password}".encode()).decode(),
               base64.b64encode(f"{user}:{password}".encode()).decode().rstrip("=")]
    logs = {"dfdaemon": _log_text(host.log_path), "supernode": _log_text(supernode.log_path)}
    assert "basic/private" in logs["dfdaemon"]            # the logs are not empty: DEBUG lines were written
    for name, text in logs.items():
        for secret in secrets:
            assert secret not in text, f"{name} log contains a credential"
    assert os.path.getsize(host.log_path) > 0
