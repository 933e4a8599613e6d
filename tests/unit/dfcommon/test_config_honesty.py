"""Config honesty: keys that did nothing are refused with the reason, and Dragonfly's logConfig is applied."""
from __future__ import annotations

import logging
import os
import subprocess

import pytest

from dfcommon.errors import ConfigError
from dfcommon.logging import LogConfig, setup_logging
from dfdaemon.cli import dfget_config
from dfdaemon.config import load_config as load_dfdaemon
from supernode.config import load_config as load_supernode
from tests.helpers import free_port, script


@pytest.mark.parametrize("loader,text,key", [
    (load_supernode, "link_limit: 20MB\n", "link_limit"),
    (load_supernode, "base:\n  linkLimit: 20MB\n", "linkLimit"),        # a Dragonfly 1.x supernode.yml
    (load_dfdaemon, "maxprocs: 4\n", "maxprocs"),
    (load_dfdaemon, "streamMode: true\n", "streamMode"),
    (load_dfdaemon, "dfpath: /usr/local/bin/dfget\n", "dfpath"),
])
def test_a_removed_key_stops_the_load_with_its_reason(tmp_path, loader, text, key):
    path = tmp_path / "conf.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        loader(str(path))
    assert f"{key!r} is no longer a setting" in str(err.value) and "remove it from the config" in str(err.value)


def test_logconfig_in_both_spellings(tmp_path):
    path = tmp_path / "d.yml"
    path.write_text(f"logConfig: {{path: {tmp_path / 'x.log'}, maxSize: 2, maxBackups: 3}}\n")
    conf = load_dfdaemon(str(path))
    assert conf.log_config == LogConfig(str(tmp_path / "x.log"), 2, 3)
    path.write_text("log_config: {max_size: -1}\n")
    with pytest.raises(ConfigError, match="must not be negative"):
        load_dfdaemon(str(path))


def test_a_log_file_is_rotated_at_its_size(tmp_path):
    log_file = tmp_path / "logs" / "app.log"
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    try:
        setup_logging("INFO", logfile=str(log_file), rotate=LogConfig(max_size=1, max_backups=2))
        line = "x" * 1000
        for _ in range(3000):                    # ~3 MB of lines: two rotations, at most two backups kept
            logging.getLogger("rotation-test").info(line)
        for h in root.handlers:
            h.flush()
        names = sorted(os.listdir(log_file.parent))
        assert names == ["app.log", "app.log.1", "app.log.2"]
        assert all(os.path.getsize(log_file.parent / n) <= (1 << 20) + 2000 for n in names)
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
            h.close()
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])


def test_dfget_logs_where_its_logconfig_says(tmp_path):
    conf = tmp_path / "dfget.yml"
    target = tmp_path / "elsewhere" / "dfget.log"
    conf.write_text(f"logConfig:\n  path: {target}\n  maxSize: 1\n")
    r = subprocess.run([script("dfget"), "-u", f"http://127.0.0.1:{free_port()}/none", "-o", str(tmp_path / "out"),
                        "--config", str(conf), "--home", str(tmp_path / "home"), "-n", f"127.0.0.1:{free_port()}",
                        "--timeout", "5s"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0                     # nothing answers: the download fails, and says so in its log
    assert target.is_file() and target.stat().st_size > 0
    assert not (tmp_path / "home" / "logs" / "dfclient.log").exists()
    assert not (tmp_path / "out").exists()


def test_dfget_refuses_a_negative_log_size(tmp_path):
    conf = tmp_path / "dfget.yml"
    conf.write_text("logConfig: {maxBackups: -2}\n")
    r = subprocess.run([script("dfget"), "-u", "http://127.0.0.1:1/x", "-o", str(tmp_path / "o"), "--config",
                        str(conf)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "must not be negative" in r.stderr
    assert dfget_config.load_file_config(str(conf)).log_config.max_backups == -2   # loads; dfget checks it
