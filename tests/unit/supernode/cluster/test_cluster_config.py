"""The ``cluster:`` config section: embedded default, environment (the chart's SUPERNODE_REDIS_URL), bad values."""
import pytest

from dfcommon.errors import ConfigError
from supernode.config import load_config


def test_no_cluster_by_default():
    conf = load_config(None, environ={})
    assert conf.cluster.enabled is False and conf.cluster.redis_url == ""


def test_chart_env_sets_the_redis_url():
    conf = load_config(None, {"advertise_ip": "10.0.0.5"},
                       environ={"SUPERNODE_REDIS_URL": "redis://cache.infra:6379/2",
                                "SUPERNODE_REDIS_PASSWORD": "s3cret"})
    assert conf.cluster.enabled and conf.cluster.redis_url == "redis://cache.infra:6379/2"
    assert conf.cluster.redis_password == "s3cret"


def test_section_env_and_durations():
    conf = load_config(None, environ={"SUPERNODE_CLUSTER_REDIS_URL": "redis://127.0.0.1:6379",
                                      "SUPERNODE_CLUSTER_ADVERTISE": "sn-0.sn", "SUPERNODE_CLUSTER_MEMBER_TTL": "30s",
                                      "SUPERNODE_CLUSTER_HEARTBEAT_INTERVAL": "5s"})
    assert conf.cluster.advertise == "sn-0.sn" and conf.cluster.member_ttl == 30 and conf.cluster.heartbeat_interval == 5


@pytest.mark.parametrize("section, message", [
    ({"redis_url": "http://cache:6379"}, "must start with redis://"),
    ({"redis_url": "redis://"}, "has no host"),
    ({"redis_url": "redis://cache:99999999"}, "invalid port"),
    ({"redis_url": "redis://cache:6379/zero"}, "database must be a number"),
    ({"redis_url": "redis://cache:6379", "member_id": "a b"}, "member_id"),
    ({"redis_url": "redis://cache:6379", "key_prefix": ""}, "key_prefix"),
    ({"redis_url": "redis://cache:6379", "heartbeat_interval": "5s", "member_ttl": "6s"}, "at least twice"),
    ({"redis_url": "redis://cache:6379", "lease_ttl": "1s"}, "lease_ttl"),
    ({"redis_url": "redis://cache:6379", "redis_timeout": "0s"}, "redis_timeout"),
    ({"redis_url": "redis://cache:6379", "piece_source": "nearest"}, "piece_source must be one of holder, relay"),
    ({"redis_url": "redis://cache:6379", "heartbeat_interval": "soon"}, "cluster"),
    ({"redis_url": "redis://cache:6379", "shards": 3}, "unknown key 'shards'"),
])
def test_bad_values_are_config_errors(tmp_path, section, message):
    path = tmp_path / "sn.yml"
    import yaml
    path.write_text(yaml.safe_dump({"advertise_ip": "10.0.0.5", "cluster": section}))
    with pytest.raises(ConfigError, match=message):
        load_config(str(path), environ={})


def test_cluster_needs_an_address_for_the_other_members():
    with pytest.raises(ConfigError, match="cluster.advertise or advertise_ip"):
        load_config(None, environ={"SUPERNODE_REDIS_URL": "redis://127.0.0.1:6379"})


def test_password_never_in_the_message():
    with pytest.raises(ConfigError) as e:
        load_config(None, {"advertise_ip": "10.0.0.5"}, environ={"SUPERNODE_REDIS_URL": "redis://:hunter2@cache:bad"})
    assert "hunter2" not in str(e.value)
