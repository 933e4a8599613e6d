import pytest

from dfcommon.errors import ConfigError
from supernode.config import load_config


def test_scheduling_defaults():
    conf = load_config(environ={})
    assert (conf.piece_size, conf.pull_hold, conf.supernode_upload_limit, conf.supernode_upload_total) == (0, 1.0, 3, 4)


def test_piece_size_takes_whole_mebibytes_from_1_to_15():
    assert load_config(overrides={"piece_size": "2M"}, environ={}).piece_size == 2 << 20
    assert load_config(overrides={"piece_size": "15MB"}, environ={}).piece_size == 15 << 20
    for bad in ("1500K", "16M", "512K"):
        with pytest.raises(ConfigError, match="piece_size must be 0"):
            load_config(overrides={"piece_size": bad}, environ={})


def test_pull_hold_stays_under_the_clients_timeout():
    assert load_config(overrides={"pull_hold": "250ms"}, environ={}).pull_hold == 0.25
    with pytest.raises(ConfigError, match="pull_hold must be from 0 to 4s"):
        load_config(overrides={"pull_hold": "10s"}, environ={})


def test_negative_upload_caps_are_refused():
    with pytest.raises(ConfigError, match="supernode_upload_total must be 0 or more"):
        load_config(overrides={"supernode_upload_total": -1}, environ={})
