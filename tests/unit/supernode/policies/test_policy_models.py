import pytest

from dfcommon.errors import DfError
from supernode.policies.models import Policy, build_policy, normalize_registry


def test_defaults_and_normalisation():
    p = build_policy({"name": "nightly", "registry": "Reg.Example:5000/"})
    assert p.registry == "https://reg.example:5000"
    assert (p.repository, p.tag, p.platforms, p.enabled, p.credentials) == ("**", "**", (), True, "")
    assert p.triggers.to_json() == {"event": False, "cron": "", "manual": True}
    assert len(p.id) == 16 and p.created_at > 0


def test_full_policy_round_trips_through_rows():
    p = build_policy({"name": "n", "registry": "http://127.0.0.1:5000", "repository": "team/**", "tag": "v*",
                      "platforms": ["linux/amd64", "linux/arm64/v8"], "triggers": {"event": True,
                      "cron": "0 0 2 * * *"}, "enabled": False, "credentials": "robot"}, credentials={"robot": "a:b"})
    assert Policy.from_row(p.to_row()) == p
    j = p.to_json()
    assert j["platforms"] == ["linux/amd64", "linux/arm64/v8"] and j["triggers"]["cron"] == "0 0 2 * * *"


def test_patch_keeps_missing_fields():
    p = build_policy({"name": "n", "registry": "r.example", "tag": "v*", "triggers": {"cron": "0 * * * *"}})
    q = build_policy({"enabled": False, "triggers": {"event": True}}, base=p)
    assert (q.id, q.name, q.tag, q.triggers.cron, q.triggers.event, q.enabled) == \
        (p.id, "n", "v*", "0 * * * *", True, False)
    assert build_policy({"triggers": {"cron": ""}}, base=q).triggers.cron == ""


@pytest.mark.parametrize("data,needle", [
    ({"registry": "r"}, "name"),
    ({"name": "n"}, "registry"),
    ({"name": "n", "registry": "ftp://r"}, "registry"),
    ({"name": "n", "registry": "https://r/path"}, "registry"),
    ({"name": "n", "registry": "https://user:pw@r"}, "registry"),
    ({"name": "n", "registry": "r:99999"}, "port"),
    ({"name": "n", "registry": "r", "tag": "a/b"}, "tag"),
    ({"name": "n", "registry": "r", "repository": "a**"}, "repository"),
    ({"name": "n", "registry": "r", "triggers": {"cron": "nope"}}, "cron"),
    ({"name": "n", "registry": "r", "triggers": {"cron": 5}}, "triggers.cron"),
    ({"name": "n", "registry": "r", "triggers": {"event": "yes"}}, "triggers.event"),
    ({"name": "n", "registry": "r", "triggers": {"webhook": True}}, "unknown keys"),
    ({"name": "n", "registry": "r", "triggers": []}, "triggers"),
    ({"name": "n", "registry": "r", "platforms": ["amd64"]}, "platforms"),
    ({"name": "n", "registry": "r", "enabled": "true"}, "enabled"),
    ({"name": "n", "registry": "r", "credentials": "missing"}, "credentials"),
    ({"name": "n", "registry": "r", "colour": "red"}, "unknown fields"),
    ({"name": "/bad", "registry": "r"}, "name"),
    ([], "JSON object"),
])
def test_bad_input_is_400(data, needle):
    with pytest.raises(DfError) as e:
        build_policy(data, credentials={"robot": "a:b"})
    assert e.value.http_status == 400 and needle in e.value.message


def test_registry_forms():
    assert normalize_registry("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert normalize_registry("harbor.example") == "https://harbor.example"
