"""``auto`` host upload limits from a sysfs-like tree of real files (the layout of /sys/class/net)."""
import os

import pytest

from dfcommon.linkspeed import UPLOAD_SHARE, auto_upload_limit, link_speeds, parse_host_limit


def iface(root, name, speed, state="up", device=True):
    d = root / name
    d.mkdir()
    (d / "operstate").write_text(state + "\n")
    (d / "speed").write_text(f"{speed}\n")
    if device:
        (d / "device").mkdir()


def test_the_fastest_physical_link_that_is_up_counts(tmp_path):
    iface(tmp_path, "eth0", 1000)
    iface(tmp_path, "eth1", 25000)
    iface(tmp_path, "eth2", 100000, state="down")      # down: not used
    iface(tmp_path, "veth0", 400000, device=False)      # virtual: nominal speed, not used
    iface(tmp_path, "eth3", -1)                         # a virtual NIC without a speed
    assert link_speeds(str(tmp_path)) == {"eth0": 10**9, "eth1": 25 * 10**9}
    assert auto_upload_limit(str(tmp_path)) == int(25 * 10**9 / 8 * UPLOAD_SHARE)
    assert parse_host_limit("auto", str(tmp_path)) == int(25 * 10**9 / 8 * 0.8)


def test_auto_without_any_speed_is_unlimited(tmp_path, caplog):
    iface(tmp_path, "eth0", -1)
    with caplog.at_level("INFO"):
        assert parse_host_limit(" AUTO ", str(tmp_path)) == 0
    assert "upload unlimited" in caplog.text
    assert auto_upload_limit(str(tmp_path / "missing")) == 0


def test_sizes_keep_their_meaning(tmp_path):
    assert parse_host_limit("0", str(tmp_path)) == 0
    assert parse_host_limit("20M", str(tmp_path)) == 20 << 20
    assert parse_host_limit(1024, str(tmp_path)) == 1024
    with pytest.raises(ValueError):
        parse_host_limit("fast", str(tmp_path))


def test_the_config_keys_accept_auto():
    from dfdaemon.cli import dfget, dfget_config as dc
    from dfdaemon.config import load_config
    expected = auto_upload_limit()                       # this machine's own answer
    conf = dc.build_options(dfget.build_parser().parse_args(["-u", "http://h/f", "--totallimit", "auto"]),
                            dc.load_file_config(legacy_path=""))
    assert conf.total_limit == expected
    assert dc.cfg.build(dc.DfgetFileConfig, {"totalLimit": "auto"}).total_limit == expected
    assert load_config(None, environ={"DFDAEMON_UPLOAD_TOTAL_LIMIT": "auto"}).upload.total_limit == expected
    assert os.path.isdir("/sys/class/net") or expected == 0
