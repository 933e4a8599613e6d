from webhooks.events import ImageEvent

from .webhook_payloads import digest

D = digest("e")


def make(**kw):
    base = dict(action="push", registry="harbor.dev", repository="library/app", tag="v1", digest=D)
    base.update(kw)
    return ImageEvent(**base)


def test_tag_equal_to_digest_becomes_empty():
    assert make(tag=D).tag == ""
    assert make(tag=digest("other")).tag == ""
    assert make(tag="v1").tag == "v1"


def test_image_and_reference():
    assert make().image == "harbor.dev/library/app:v1"
    assert make(tag="").image == f"harbor.dev/library/app@{D}"


def test_dedup_key_ignores_delivery_details_but_not_identity():
    a = make(operator="admin", occurred_at=1, source="harbor", event_id="x")
    b = make(operator="", occurred_at=2, source="harbor-cloudevents", event_id="y")
    assert a.dedup_key() == b.dedup_key()
    assert make(registry="HARBOR.dev").dedup_key() == a.dedup_key()
    for other in (make(tag="v2"), make(tag=""), make(digest=digest("z")), make(repository="library/b"),
                  make(registry="other"), make(action="delete")):
        assert other.dedup_key() != a.dedup_key()


def test_json_round_trip():
    ev = make(media_type="application/vnd.oci.image.index.v1+json", operator="robot$p+ci",
              occurred_at=12.5, source="registry", event_id="id", extra={"repo_type": "private"})
    back = ImageEvent.from_json(ev.to_json())
    assert back == ev and back.extra == {"repo_type": "private"}
    assert ImageEvent.from_dict({**ev.to_dict(), "future_field": 1}) == ev
