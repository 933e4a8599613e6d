"""The real-registry fixtures themselves: notifications, refresh-token grants, token server rules."""
import json
import time

import pytest
import requests

from registry_plugin.oci import RegistryClient
from registry_plugin.oci.auth import Authenticator
from registry_plugin.oci.challenge import Challenge
from registry_plugin.oci.credentials import BasicCredentials
from registry_plugin.oci.scope import parse_scopes
from tests.fixtures.stub_registry import StubRegistry

pytestmark = pytest.mark.e2e


def test_registry_notifications_reach_endpoint(registry_factory, oci_image_factory):
    sink = StubRegistry().start()
    try:
        sink.route("POST", "/events", lambda r: (200, {}, b""))
        reg = registry_factory("plain", notifications=[{"url": f"{sink.url}/events",
                                                        "headers": {"Authorization": "Bearer hook"}}])
        img = oci_image_factory(layers=1, layer_size=10_000, tag="n1")
        reg.push(img, "notify/app")
        deadline = time.monotonic() + 20
        pushes = []
        while time.monotonic() < deadline and not pushes:
            for r in list(sink.requests):
                for ev in json.loads(r.body or b"{}").get("events", []):
                    if ev.get("action") == "push" and ev["target"].get("tag") == "n1":
                        pushes.append((r, ev))
            time.sleep(0.1)
        assert pushes, "no push event delivered"
        req, ev = pushes[0]
        assert req.header("Authorization") == "Bearer hook"
        # Distribution 2.8.2 sends events.v1+json (v3 sends v2+json)
        assert req.header("Content-Type").startswith("application/vnd.docker.distribution.events.v")
        assert ev["target"]["repository"] == "notify/app" and ev["target"]["digest"] == img.manifest.digest
    finally:
        sink.stop()


def test_refresh_token_grant(token_server):
    session = requests.Session()
    auth = Authenticator(session)
    ch = Challenge("bearer", {"realm": token_server.realm, "service": token_server.service})
    first = auth.fetch(ch, parse_scopes("repository:x/y:pull"), BasicCredentials("testuser", "testpass"))
    assert first.refresh_token
    again = auth.fetch(ch, parse_scopes("repository:x/y:pull"), BasicCredentials(refresh_token=first.refresh_token))
    assert again.token
    assert [(r.method, r.grant_type, r.user) for r in token_server.requests] == \
        [("POST", "password", "testuser"), ("POST", "refresh_token", "testuser")]


def test_token_server_grants_intersection(token_server):
    token_server.permissions["testuser"] = {"team/*": ["pull"]}
    r = requests.get(token_server.realm, params=[("service", "test-registry"),
                                                 ("scope", "repository:team/a:pull,push"),
                                                 ("scope", "repository:other/b:pull")],
                     auth=("testuser", "testpass"), timeout=5)
    import jwt
    claims = jwt.decode(r.json()["token"], options={"verify_signature": False})
    assert claims["access"] == [{"type": "repository", "name": "team/a", "actions": ["pull"]},
                                {"type": "repository", "name": "other/b", "actions": []}]
    assert r.json()["expires_in"] == 300


def test_docker_format_push(registry_plain, oci_image_factory):
    img = oci_image_factory(layers=1, layer_size=5_000, tag="v2s2")
    registry_plain.push(img, "fmt/app", format="v2s2")
    got = RegistryClient(registry_plain.url).get_manifest("fmt/app", "v2s2")
    assert got.media_type == "application/vnd.docker.distribution.manifest.v2+json"
