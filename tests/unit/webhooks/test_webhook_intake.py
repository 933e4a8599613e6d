import json

import pytest

from dfcommon.errors import DfError
from webhooks.config import build_webhook_config
from webhooks.intake import WebhookIntake
from webhooks.queue import SqliteWorkQueue

from .webhook_payloads import LAYER, digest, envelope, harbor_cloudevent, harbor_default, registry_event

D = digest("intake")


@pytest.fixture
def queue(tmp_path):
    q = SqliteWorkQueue(str(tmp_path / "q.db"))
    yield q
    q.close()


@pytest.fixture
def intake(queue):
    conf = build_webhook_config({"harbor_auth": ["Bearer h"], "registry_auth": ["Bearer r"],
                                 "max_body_size": 4096})
    return WebhookIntake.from_config(conf, queue)


def body(obj):
    return json.dumps(obj).encode()


def test_harbor_default_and_cloudevents_by_content_type_or_shape(intake, queue):
    r = intake.harbor(body(harbor_default("library/a", D, "v1")), "application/json", "Bearer h")
    assert r.to_dict() == {"accepted": 1, "queued": 1, "duplicates": 0, "ignored": 0}
    ce = body(harbor_cloudevent("library/a", D, "v1"))
    assert intake.harbor(ce, "application/cloudevents+json", "Bearer h").duplicates == 1
    assert intake.harbor(ce, "application/json; charset=utf-8", "Bearer h").duplicates == 1
    assert intake.harbor(body(harbor_default("library/a", D, "v2")), None, "Bearer h").queued == 1
    assert len(queue.items()) == 2


def test_auth_is_checked_before_the_body(intake, queue):
    for value in (None, "Bearer r", "Bearer hh"):
        with pytest.raises(DfError) as e:
            intake.harbor(b"not json", "application/json", value)
        assert e.value.http_status == 401
    with pytest.raises(DfError) as e:
        intake.registry(body(envelope(registry_event("a/b", D, "v1"))), None, "Bearer h")
    assert e.value.http_status == 401
    assert queue.items() == []


@pytest.mark.parametrize("raw, words", [
    (b"", "body is empty"), (b"{", "not valid JSON"), (b"\xff\xfe", "not valid JSON"), (b"[]", "JSON object"),
])
def test_bad_bodies(intake, queue, raw, words):
    with pytest.raises(DfError) as e:
        intake.harbor(raw, "application/json", "Bearer h")
    assert e.value.http_status == 400 and words in e.value.message
    assert queue.items() == []


def test_one_bad_event_rejects_the_whole_envelope(intake, queue):
    broken = registry_event("library/a", D, "v1")
    del broken["target"]["digest"]
    with pytest.raises(DfError, match=r"events\[1\].target.digest is missing"):
        intake.registry(body(envelope(registry_event("library/a", digest("x"), "v1"), broken)), None, "Bearer r")
    assert queue.items() == []


def test_registry_counts_and_media_types(intake, queue):
    env = envelope(registry_event("library/a", D, "v1"), registry_event("library/a", digest("l"), media_type=LAYER),
                   registry_event("library/a", D, "v1", action="pull"))
    ctype = "application/vnd.docker.distribution.events.v2+json"
    assert intake.registry(body(env), ctype, "Bearer r").to_dict() == {
        "accepted": 1, "queued": 1, "duplicates": 0, "ignored": 2}
    assert intake.registry(body(env), "application/json", "Bearer r").duplicates == 1
    with pytest.raises(DfError) as e:
        intake.registry(body(env), "text/plain", "Bearer r")
    assert e.value.http_status == 415


def test_body_over_the_limit(intake):
    with pytest.raises(DfError) as e:
        intake.harbor(b" " * 4097, "application/json", "Bearer h")
    assert e.value.http_status == 413
