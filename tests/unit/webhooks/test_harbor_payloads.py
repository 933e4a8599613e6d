import pytest

from dfcommon.errors import DfError
from webhooks.cloudevents import parse_body
from webhooks.events import SOURCE_HARBOR, SOURCE_HARBOR_CLOUDEVENTS
from webhooks.harbor import parse_default, split_resource_url

from .webhook_payloads import digest, harbor_cloudevent, harbor_default

D = digest("busybox")

# The exact Default payload of a push by tag (field set of Harbor's artifact handler).
EXACT_DEFAULT = {
    "type": "PUSH_ARTIFACT", "occur_at": 1678082303, "operator": "admin",
    "event_data": {
        "resources": [{"digest": D, "tag": "latest", "resource_url": "harbor.dev/library/busybox:latest"}],
        "repository": {"date_created": 1677053165, "name": "busybox", "namespace": "library",
                       "repo_full_name": "library/busybox", "repo_type": "public"}}}


def test_default_push_by_tag():
    (ev,) = parse_default(EXACT_DEFAULT).events
    assert (ev.action, ev.registry, ev.repository, ev.tag, ev.digest) == (
        "push", "harbor.dev", "library/busybox", "latest", D)
    assert ev.operator == "admin" and ev.occurred_at == 1678082303 and ev.source == SOURCE_HARBOR
    assert ev.image == "harbor.dev/library/busybox:latest"
    assert ev.extra["repo_type"] == "public"


def test_default_push_by_digest_has_no_tag():
    (ev,) = parse_default(harbor_default("library/busybox", D, tag=None)).events
    assert ev.tag == "" and ev.digest == D
    assert ev.reference == D and ev.image == f"harbor.dev/library/busybox@{D}"


def test_nested_repository_keeps_full_name():
    body = harbor_default("proj/a/b", D, "v1", host="harbor.example.com:8443")
    assert body["event_data"]["repository"]["name"] == "a/b"
    (ev,) = parse_default(body).events
    assert ev.repository == "proj/a/b" and ev.registry == "harbor.example.com:8443" and ev.tag == "v1"


def test_repository_from_namespace_and_name_or_url():
    body = harbor_default("proj/a/b", D, "v1")
    del body["event_data"]["repository"]["repo_full_name"]
    assert parse_default(body).events[0].repository == "proj/a/b"
    del body["event_data"]["repository"]
    assert parse_default(body).events[0].repository == "proj/a/b"


@pytest.mark.parametrize("operator", ["robot$library+ci", ""])
def test_robot_and_empty_operator(operator):
    (ev,) = parse_default(harbor_default("library/app", D, "1.0", operator=operator)).events
    assert ev.operator == operator


def test_missing_operator_and_date_created_are_fine():
    body = harbor_default("library/app", D, "1.0", date_created=None)
    del body["operator"]
    assert parse_default(body).events[0].operator == ""


def test_multi_arch_children_and_index_are_distinct_events():
    children = [digest(f"child-{arch}") for arch in ("amd64", "arm64")]
    index = digest("index")
    bodies = [harbor_default("library/multi", c, tag=None) for c in children]
    bodies.append(harbor_default("library/multi", index, tag="v2"))
    events = [parse_default(b).events[0] for b in bodies]
    assert [e.tag for e in events] == ["", "", "v2"]
    assert len({e.dedup_key() for e in events}) == 3


def test_redelivery_has_the_same_dedup_key():
    a = parse_default(harbor_default("library/app", D, "1.0")).events[0]
    b = parse_default(harbor_default("library/app", D, "1.0", operator="someone-else")).events[0]
    assert a.dedup_key() == b.dedup_key()


@pytest.mark.parametrize("etype", ["PULL_ARTIFACT", "DELETE_ARTIFACT", "SCANNING_COMPLETED", "QUOTA_EXCEED",
                                   "QUOTA_WARNING", "REPLICATION", "TAG_RETENTION"])
def test_other_types_are_ignored(etype):
    result = parse_default(harbor_default("library/app", D, "1.0", event_type=etype))
    assert result.events == [] and result.ignored == 1


@pytest.mark.parametrize("mutate, words", [
    (lambda b: b.pop("type"), "body.type is missing"),
    (lambda b: b.pop("event_data"), "body.event_data is missing"),
    (lambda b: b["event_data"].update(resources=[]), "resources is empty"),
    (lambda b: b["event_data"].update(resources="x"), "must be a JSON array"),
    (lambda b: b["event_data"]["resources"][0].pop("digest"), "digest is missing"),
    (lambda b: b["event_data"]["resources"][0].update(digest="sha256:xyz"), "is not a digest"),
    (lambda b: b["event_data"]["resources"][0].pop("resource_url"), "resource_url is missing"),
    (lambda b: b["event_data"]["resources"][0].update(resource_url="nohost"), "<host>/<repository>"),
    (lambda b: b.update(operator=5), "operator must be a string"),
    (lambda b: b.update(occur_at="yesterday"), "occur_at must be a number"),
])
def test_malformed_default_payloads_say_what_is_wrong(mutate, words):
    body = harbor_default("library/app", D, "1.0")
    mutate(body)
    with pytest.raises(DfError) as e:
        parse_default(body)
    assert e.value.http_status == 400 and words in e.value.message


def test_body_must_be_an_object():
    with pytest.raises(DfError, match="body must be a JSON object"):
        parse_default([1, 2])


@pytest.mark.parametrize("url, host, repo", [
    ("harbor.dev/library/busybox:latest", "harbor.dev", "library/busybox"),
    ("harbor.dev:8443/p/a/b@" + D, "harbor.dev:8443", "p/a/b"),
    ("https://harbor.dev/p/app:1", "harbor.dev", "p/app"),
    ("10.0.0.1:80/p/app", "10.0.0.1:80", "p/app"),
])
def test_split_resource_url(url, host, repo):
    assert split_resource_url(url, "u") == (host, repo)


# -- CloudEvents ------------------------------------------------------------------------------

def test_cloudevent_push_by_tag():
    body = harbor_cloudevent("library/busybox", D, "latest", operator="robot$library+ci", event_id="e-1")
    (ev,) = parse_body(body).events
    assert (ev.registry, ev.repository, ev.tag, ev.digest) == ("harbor.dev", "library/busybox", "latest", D)
    assert ev.operator == "robot$library+ci" and ev.event_id == "e-1"
    assert ev.source == SOURCE_HARBOR_CLOUDEVENTS and ev.occurred_at == 1678082923.0


def test_cloudevent_by_digest_nested_and_same_key_as_default():
    ce = parse_body(harbor_cloudevent("proj/a/b", D, tag=None)).events[0]
    default = parse_default(harbor_default("proj/a/b", D, tag=None)).events[0]
    assert ce.tag == "" and ce.repository == "proj/a/b"
    assert ce.dedup_key() == default.dedup_key()


@pytest.mark.parametrize("etype", ["PULL_ARTIFACT", "DELETE_ARTIFACT", "SCANNING_COMPLETED", "QUOTA_EXCEED"])
def test_cloudevent_other_types_ignored(etype):
    result = parse_body(harbor_cloudevent("library/app", D, "1", event_type=etype))
    assert result.events == [] and result.ignored == 1


def test_cloudevent_batch():
    batch = [harbor_cloudevent("library/app", digest(str(i)), "1") for i in range(3)]
    batch.append(harbor_cloudevent("library/app", D, "1", event_type="PULL_ARTIFACT"))
    result = parse_body(batch)
    assert len(result.events) == 3 and result.ignored == 1


@pytest.mark.parametrize("mutate, words", [
    (lambda b: b.pop("specversion"), "specversion is missing"),
    (lambda b: b.update(specversion="0.3"), "not supported"),
    (lambda b: b.pop("id"), "body.id is missing"),
    (lambda b: b.pop("source"), "body.source is missing"),
    (lambda b: b.pop("data"), "body.data is missing"),
    (lambda b: b.update(time="March 6th"), "RFC 3339"),
    (lambda b: b.update(datacontenttype="text/plain"), "not JSON"),
    (lambda b: b["data"]["resources"][0].pop("digest"), "body.data.resources[0].digest is missing"),
])
def test_malformed_cloudevents(mutate, words):
    body = harbor_cloudevent("library/app", D, "1.0")
    mutate(body)
    with pytest.raises(DfError) as e:
        parse_body(body)
    assert e.value.http_status == 400 and words in e.value.message
