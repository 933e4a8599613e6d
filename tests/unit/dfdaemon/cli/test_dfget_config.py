import pytest

from dfcommon.errors import ConfigError
from dfdaemon.cli import dfget_config as dc


def test_yaml_keys_in_dragonfly_spelling(tmp_path):
    p = tmp_path / "dfget.yml"
    p.write_text("nodes: ['127.0.0.1=1', '10.10.10.1:8002=2']\nlocalLimit: 10M\nminRate: 32KB\n"
                 "totalLimit: 100M\nclientQueueSize: 9\nworkHome: /tmp/wh\nlogConfig: {maxSize: 40}\n")
    c = dc.load_file_config(str(p))
    assert c.nodes == ["127.0.0.1=1", "10.10.10.1:8002=2"]
    assert (c.local_limit, c.min_rate, c.total_limit, c.client_queue_size) == (10 << 20, 32 << 10, 100 << 20, 9)
    assert c.work_home == "/tmp/wh" and (c.log_config.max_size, c.log_config.max_backups) == (40, 1)


def test_defaults_when_no_file(tmp_path):
    c = dc.load_file_config(None, legacy_path=str(tmp_path / "absent.conf"))
    if not __import__("os").path.isfile(dc.DEFAULT_CONFIG):
        assert c.local_limit == 0 and c.min_rate == 64 << 10 and c.client_queue_size == 6


def test_unknown_key_and_missing_file_fail(tmp_path):
    p = tmp_path / "bad.yml"
    p.write_text("nodez: [a]\n")
    with pytest.raises(ConfigError, match="nodez"):
        dc.load_file_config(str(p))
    with pytest.raises(ConfigError, match="does not exist"):
        dc.load_file_config(str(tmp_path / "none.yml"))


def test_legacy_ini(tmp_path):
    p = tmp_path / "dragonfly.conf"
    p.write_text("[node]\naddress=10.0.0.1,10.0.0.2:8003\n")
    assert dc.read_legacy_ini(str(p)) == {"nodes": ["10.0.0.1", "10.0.0.2:8003"]}
