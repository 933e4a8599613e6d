"""The webhook receivers on a real socket: a gevent-patched Flask process served by pywsgi."""
import json
import random
import sqlite3
import threading
import time

import pytest
import requests

from tests.unit.webhooks.webhook_payloads import (LAYER, OCI_INDEX, digest, envelope, harbor_cloudevent,
                                                  harbor_default, registry_event)

HARBOR_AUTH = "Bearer harbor-s3cr3t"
REGISTRY_AUTH = "Bearer registry-s3cr3t"
REG_CT = "application/vnd.docker.distribution.events.v2+json"
CE_CT = "application/cloudevents+json"
TIMEOUT = (3, 30)


@pytest.fixture(scope="module")
def server(webhook_server_factory):
    return webhook_server_factory({"harbor_auth": [HARBOR_AUTH], "registry_auth": [REGISTRY_AUTH],
                                   "max_body_size": "64K", "retry_backoff": "0.05s"})


def stored(server) -> int:
    with sqlite3.connect(server.queue_path) as db:
        return db.execute("SELECT COUNT(*) FROM webhook_items").fetchone()[0]


def post(server, receiver, payload, content_type="application/json", auth=None, raw=None):
    headers = {"Content-Type": content_type}
    if auth:
        headers["Authorization"] = auth
    data = raw if raw is not None else json.dumps(payload).encode()
    return requests.post(f"{server.url}/api/v1/webhooks/{receiver}", data=data, headers=headers, timeout=TIMEOUT)


def test_push_is_accepted_and_reaches_the_sink(server):
    d = digest("http-push")
    r = post(server, "harbor", harbor_default("library/http", d, "v1"), auth=HARBOR_AUTH)
    assert r.status_code == 202 and r.json() == {"accepted": 1, "queued": 1, "duplicates": 0, "ignored": 0}
    r = post(server, "harbor", harbor_cloudevent("library/http", d, "v1"), CE_CT, auth=HARBOR_AUTH)
    assert r.status_code == 202 and r.json()["duplicates"] == 1
    r = post(server, "registry", envelope(registry_event("library/http", d, "v1")), REG_CT, auth=REGISTRY_AUTH)
    assert r.status_code == 202 and r.json()["queued"] == 1
    events = wait_recorded(server, lambda evs: sum(e["digest"] == d for e in evs) >= 2)
    assert {(e["registry"], e["source"]) for e in events if e["digest"] == d} == {
        ("harbor.dev", "harbor"), ("registry.local:5000", "registry")}


@pytest.mark.parametrize("receiver, payload, ctype", [
    ("harbor", harbor_default("library/x", digest("u"), "v1"), "application/json"),
    ("registry", envelope(registry_event("library/x", digest("u"), "v1")), REG_CT),
])
@pytest.mark.parametrize("auth", [None, "Bearer wrong", "harbor-s3cr3t"])
def test_wrong_or_missing_authorization_is_401(server, receiver, payload, ctype, auth):
    before = stored(server)
    r = post(server, receiver, payload, ctype, auth=auth)
    assert r.status_code == 401
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["code"] == "UNAUTHORIZED" and r.json()["status"] == 401
    assert stored(server) == before


def test_each_receiver_has_its_own_secret(server):
    assert post(server, "harbor", harbor_default("library/x", digest("s"), "v1"), auth=REGISTRY_AUTH).status_code == 401
    assert post(server, "registry", envelope(), REG_CT, auth=HARBOR_AUTH).status_code == 401


@pytest.mark.parametrize("receiver, raw, words", [
    ("harbor", b"{not json", "not valid JSON"),
    ("harbor", b"", "body is empty"),
    ("harbor", b"[1,2]", "body must be a JSON object"),
    ("harbor", json.dumps({"type": "PUSH_ARTIFACT"}).encode(), "body.event_data is missing"),
    ("harbor", json.dumps(harbor_cloudevent("library/x", "sha256:bad", "v1")).encode(), "is not a digest"),
    ("registry", b"{}", "body.events is missing"),
    ("registry", json.dumps({"events": [{"action": "push", "target": {"mediaType": OCI_INDEX}}]}).encode(),
     "body.events[0].target.digest is missing"),
])
def test_malformed_payloads_are_400_with_a_reason(server, receiver, raw, words):
    before = stored(server)
    auth = HARBOR_AUTH if receiver == "harbor" else REGISTRY_AUTH
    r = post(server, receiver, None, auth=auth, raw=raw)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "INVALID_PARAM" and words in r.json()["message"]
    assert stored(server) == before


def test_oversized_bodies_are_413(server):
    before = stored(server)
    big = b'{"pad": "' + b"x" * (64 * 1024) + b'"}'
    r = post(server, "harbor", None, auth=HARBOR_AUTH, raw=big)
    assert r.status_code == 413 and r.json()["code"] == "BODY_TOO_LARGE"

    def chunks():                           # no Content-Length: chunked transfer encoding
        for _ in range(80):
            yield b" " * 1024

    r = requests.post(f"{server.url}/api/v1/webhooks/registry", data=chunks(), timeout=TIMEOUT,
                      headers={"Content-Type": REG_CT, "Authorization": REGISTRY_AUTH})
    assert r.status_code == 413
    assert stored(server) == before
    # the connection is still usable afterwards and a normal body under the limit passes
    ok = post(server, "registry", envelope(), REG_CT, auth=REGISTRY_AUTH)
    assert ok.status_code == 202


def test_unsupported_media_type_is_415(server):
    r = post(server, "registry", envelope(), "text/plain", auth=REGISTRY_AUTH)
    assert r.status_code == 415 and r.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_events_we_do_not_act_on_are_202_ignored(server):
    before = stored(server)
    d = digest("ignored")
    for etype in ("PULL_ARTIFACT", "DELETE_ARTIFACT", "SCANNING_COMPLETED", "QUOTA_EXCEED"):
        r = post(server, "harbor", harbor_default("library/x", d, "v1", event_type=etype), auth=HARBOR_AUTH)
        assert r.status_code == 202 and r.json()["accepted"] == 0 and r.json()["ignored"] == 1
        r = post(server, "harbor", harbor_cloudevent("library/x", d, "v1", event_type=etype), CE_CT,
                 auth=HARBOR_AUTH)
        assert r.status_code == 202 and r.json() == {"accepted": 0, "queued": 0, "duplicates": 0, "ignored": 1}
    env = envelope(registry_event("library/x", digest("l"), media_type=LAYER),
                   registry_event("library/x", d, "v1", action="pull"),
                   {"id": "d", "action": "delete", "target": {"digest": d, "repository": "library/x"}})
    r = post(server, "registry", env, REG_CT, auth=REGISTRY_AUTH)
    assert r.status_code == 202 and r.json()["accepted"] == 0 and r.json()["ignored"] == 3
    assert stored(server) == before


def wait_recorded(server, done, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        events = requests.get(f"{server.url}/_test/recorded", timeout=TIMEOUT).json()["events"]
        if done(events) or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def burst_deliveries(n_images=250, copies=4, seed=7):
    """(receiver, content type, payload, dedup identity) for 1,000 deliveries of 250 distinct images."""
    rnd = random.Random(seed)
    deliveries, images = [], []
    for i in range(n_images):
        d = digest(f"burst-{i}")
        kind = i % 5
        if kind == 0:        # pushed by digest (multi-arch child style)
            makers = [lambda d=d: ("harbor", "application/json", harbor_default("burst/multi", d, None)),
                      lambda d=d: ("harbor", CE_CT, harbor_cloudevent("burst/multi", d, None))]
            images.append(("harbor.dev", "burst/multi", "", d))
        elif kind in (1, 2):  # by tag, nested repository, robot operator
            tag = f"v{i}"
            makers = [lambda d=d, t=tag: ("harbor", "application/json",
                                          harbor_default("burst/a/b", d, t, operator="robot$burst+ci")),
                      lambda d=d, t=tag: ("harbor", CE_CT, harbor_cloudevent("burst/a/b", d, t, operator=""))]
            images.append(("harbor.dev", "burst/a/b", tag, d))
        else:                # registry:2, sometimes batched with an ignored blob event
            tag = f"r{i}"
            makers = [lambda d=d, t=tag: ("registry", REG_CT, envelope(registry_event("burst/reg", d, t))),
                      lambda d=d, t=tag: ("registry", "application/json",
                                          envelope(registry_event("burst/reg", digest("blob"), media_type=LAYER),
                                                   registry_event("burst/reg", d, t)))]
            images.append(("registry.local:5000", "burst/reg", tag, d))
        for _ in range(copies):
            deliveries.append(rnd.choice(makers)())
    rnd.shuffle(deliveries)
    return deliveries, images


def test_burst_of_1000_deliveries_with_duplicates_delivers_each_image_once(server):
    deliveries, images = burst_deliveries()
    assert len(deliveries) == 1000
    results, errors = [], []
    lock = threading.Lock()

    def client(part):
        with requests.Session() as s:
            for receiver, ctype, payload in part:
                auth = HARBOR_AUTH if receiver == "harbor" else REGISTRY_AUTH
                try:
                    r = s.post(f"{server.url}/api/v1/webhooks/{receiver}", data=json.dumps(payload),
                               headers={"Content-Type": ctype, "Authorization": auth}, timeout=TIMEOUT)
                    with lock:
                        results.append((r.status_code, r.json()))
                except Exception as e:  # recorded and asserted below
                    with lock:
                        errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(deliveries[n::8],)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(code == 202 for code, _ in results) and len(results) == 1000
    assert sum(body["queued"] for _, body in results) == len(images)
    assert sum(body["accepted"] for _, body in results) == 1000

    expected = {(reg, repo, tag, d) for reg, repo, tag, d in images}
    deadline = time.monotonic() + 60
    while pending(server) and time.monotonic() < deadline:   # every item done: nothing more will come
        time.sleep(0.1)
    assert pending(server) == 0
    events = requests.get(f"{server.url}/_test/recorded", timeout=TIMEOUT).json()["events"]
    got = [(e["registry"], e["repository"], e["tag"], e["digest"]) for e in events
           if e["repository"].startswith("burst/")]
    assert len(got) == len(expected) and set(got) == expected   # every image exactly once


def pending(server) -> int:
    with sqlite3.connect(server.queue_path) as db:
        return db.execute("SELECT COUNT(*) FROM webhook_items WHERE state IN ('ready', 'claimed')").fetchone()[0]
