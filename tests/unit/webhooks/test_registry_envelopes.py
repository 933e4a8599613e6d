from datetime import datetime, timezone

import pytest

from dfcommon.errors import DfError
from webhooks.events import SOURCE_REGISTRY
from webhooks.registry import HostResolver, parse_envelope

from .webhook_payloads import LAYER, OCI_INDEX, OCI_MANIFEST, digest, envelope, registry_event

D = digest("app")


def test_one_manifest_push_by_tag():
    result = parse_envelope(envelope(registry_event("library/app", D, tag="v1", event_id="ev-1")), HostResolver())
    (ev,) = result.events
    assert (ev.registry, ev.repository, ev.tag, ev.digest) == ("registry.local:5000", "library/app", "v1", D)
    assert ev.media_type == "application/vnd.docker.distribution.manifest.v2+json"
    assert ev.source == SOURCE_REGISTRY and ev.event_id == "ev-1" and ev.operator == "ci"
    expected = datetime(2026, 11, 26, 10, 1, 2, tzinfo=timezone.utc).timestamp() + 0.123456789
    assert ev.occurred_at == pytest.approx(expected)
    assert result.ignored == 0


def test_push_by_digest_has_no_tag():
    (ev,) = parse_envelope(envelope(registry_event("library/app", D, media_type=OCI_MANIFEST)),
                           HostResolver()).events
    assert ev.tag == "" and ev.reference == D


def test_n_events_with_blobs_pulls_mounts_deletes_ignored():
    events = [
        registry_event("library/app", digest("layer"), action="push", media_type=LAYER),
        registry_event("library/app", digest("cfg"), action="push", media_type="application/octet-stream"),
        registry_event("library/app", D, tag="v1", action="pull"),
        registry_event("library/app", digest("m"), action="mount", media_type=LAYER),
        {"id": "x", "action": "delete", "target": {"digest": D, "repository": "library/app"}},
        registry_event("library/app", D, tag="v1"),
        registry_event("library/app", digest("idx"), tag="multi", media_type=OCI_INDEX),
    ]
    result = parse_envelope(envelope(*events), HostResolver())
    assert [e.tag for e in result.events] == ["v1", "multi"]
    assert result.ignored == 5


def test_empty_envelope_is_nothing():
    result = parse_envelope({"events": []}, HostResolver())
    assert result.events == [] and result.ignored == 0


def test_host_mapping_and_default():
    ev = registry_event("library/app", D, tag="v1", host="internal:5000")
    mapped = HostResolver({"internal:5000": "registry.example.com"})
    assert parse_envelope(envelope(ev), mapped).events[0].registry == "registry.example.com"
    by_source = HostResolver({"10.0.0.5:5000": "by-source.example"})
    assert parse_envelope(envelope(ev), by_source).events[0].registry == "by-source.example"

    bare = registry_event("library/app", D, tag="v1", with_request=False)
    del bare["target"]["url"]
    assert parse_envelope(envelope(bare), HostResolver(default="fallback:5000")).events[0].registry == "fallback:5000"
    with pytest.raises(DfError, match="no default registry"):
        parse_envelope(envelope(bare), HostResolver())
    bare["target"]["url"] = f"http://from-url:5000/v2/library/app/manifests/{D}"
    assert parse_envelope(envelope(bare), HostResolver()).events[0].registry == "from-url:5000"


@pytest.mark.parametrize("body, words", [
    ([], "body must be a JSON object"),
    ({}, "body.events is missing"),
    ({"events": {}}, "must be a JSON array"),
    ({"events": ["x"]}, "body.events[0] must be a JSON object"),
    ({"events": [{"target": {}}]}, "body.events[0].action is missing"),
    ({"events": [{"action": "push"}]}, "body.events[0].target is missing"),
])
def test_malformed_envelopes(body, words):
    with pytest.raises(DfError) as e:
        parse_envelope(body, HostResolver())
    assert e.value.http_status == 400 and words in e.value.message


def test_malformed_manifest_event_fields():
    ev = registry_event("library/app", D, tag="v1")
    del ev["target"]["repository"]
    with pytest.raises(DfError, match=r"events\[1\].target.repository is missing"):
        parse_envelope(envelope(registry_event("library/app", D), ev), HostResolver())
    ev = registry_event("library/app", "sha256:short", tag="v1")
    with pytest.raises(DfError, match="is not a digest"):
        parse_envelope(envelope(ev), HostResolver())
    ev = registry_event("library/app", D, tag="v1")
    ev["timestamp"] = "yesterday"
    with pytest.raises(DfError, match="RFC 3339"):
        parse_envelope(envelope(ev), HostResolver())
