"""The ``preheat:`` and ``webhooks:`` sections of the supernode config."""
import pytest

from dfcommon.errors import ConfigError
from supernode.config import load_config
from supernode.preheat.config import registry_for


def load(**overrides):
    return load_config(overrides={"home_dir": "/tmp/unused", **overrides}, environ={})


def test_defaults():
    conf = load().preheat
    assert (conf.ttl, conf.concurrency, conf.timeout, conf.auth_mode) == (86400.0, 4, 1800.0, "none")
    assert conf.registries == [] and conf.platforms == []
    wh = load().webhooks
    assert wh.enabled is True and wh.dedup_window == 600.0


def test_yaml_sections_and_env(tmp_path):
    path = tmp_path / "sn.yml"
    path.write_text("base:\n  port: 9000\npreheat:\n  ttl: 1h\n  auth_mode: OAUTH\n  auth_token: pat\n"
                    "  registries:\n    - host: reg.local:5000\n      scheme: http\n      username: u\n"
                    "      password: p\n  platforms: [linux/amd64]\nwebhooks:\n  harbor_auth: [x]\n")
    conf = load_config(str(path), environ={"SUPERNODE_PREHEAT_CONCURRENCY": "2",
                                           "SUPERNODE_WEBHOOKS_REGISTRY_AUTH": "a,b"})
    p = conf.preheat
    assert (p.ttl, p.auth_mode, p.auth_token, p.concurrency) == (3600.0, "bearer", "pat", 2)
    reg = registry_for(p, "REG.local:5000")
    assert (reg.scheme, reg.username, reg.password, reg.insecure) == ("http", "u", "p", False)
    assert registry_for(p, "other") is None
    assert conf.webhooks.harbor_auth == ["x"] and conf.webhooks.registry_auth == ["a", "b"]


@pytest.mark.parametrize("preheat, needle", [
    ({"auth_mode": "kerberos"}, "auth_mode"),
    ({"auth_mode": "basic", "auth_username": "u"}, "auth_password"),
    ({"auth_mode": "bearer"}, "auth_token"),
    ({"auth_mode": "custom", "auth_token": "v"}, "auth_header"),
    ({"concurrency": 0}, "concurrency"),
    ({"registries": [{"host": "a/b"}]}, "host"),
    ({"registries": [{"host": "a", "scheme": "ftp"}]}, "scheme"),
    ({"registries": [{"host": "a", "username": "u"}]}, "password"),
    ({"registries": [{"host": "a", "color": "red"}]}, "color"),
    ({"platforms": ["linux"]}, "platform"),
    ({"bogus": 1}, "bogus"),
])
def test_bad_values_fail_clearly(preheat, needle):
    with pytest.raises(ConfigError, match=needle):
        load(preheat=preheat)


def test_bad_webhooks_section_fails():
    with pytest.raises(ConfigError, match="workers"):
        load(webhooks={"workers": 0})
