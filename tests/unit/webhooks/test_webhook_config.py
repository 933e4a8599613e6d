import pytest

from dfcommon.errors import ConfigError
from webhooks.config import WebhookConfig, build_webhook_config, load_webhook_config, queue_path_for


def test_defaults():
    conf = build_webhook_config({})
    assert conf.max_body_size == 1 << 20 and conf.dedup_window == 600 and conf.max_attempts == 5
    assert conf.harbor_auth == [] and conf.registry_auth == [] and conf.registry_hosts == {}
    assert queue_path_for(conf, "/srv/sn").endswith("webhooks/queue.db")


def test_yaml_env_and_overrides(tmp_path):
    path = tmp_path / "w.yml"
    path.write_text("harbor_auth: ['Bearer a']\nmax_body_size: 64K\ndedup_window: 30s\n"
                    "registry_hosts: {'internal:5000': registry.example.com}\n")
    conf = load_webhook_config(str(path), overrides={"max_attempts": 2},
                               environ={"WEBHOOKS_REGISTRY_AUTH": "Bearer r1,Bearer r2"})
    assert conf.harbor_auth == ["Bearer a"] and conf.registry_auth == ["Bearer r1", "Bearer r2"]
    assert conf.max_body_size == 65536 and conf.dedup_window == 30 and conf.max_attempts == 2
    assert conf.registry_hosts == {"internal:5000": "registry.example.com"}
    assert isinstance(conf, WebhookConfig)


@pytest.mark.parametrize("data, words", [
    ({"no_such_key": 1}, "unknown key"),
    ({"max_attempts": 0}, "max_attempts"),
    ({"workers": 0}, "workers"),
    ({"max_body_size": "lots"}, "invalid size"),
    ({"registry_hosts": {"a": "http://x/y"}}, "host[:port]"),
])
def test_bad_config_fails_clearly(data, words):
    with pytest.raises(ConfigError) as e:
        build_webhook_config(data)
    assert words in str(e.value)
