import pytest

from dfcommon import plugins
from dfcommon.errors import ConfigError


def test_builtin_is_found():
    assert plugins.load("dragonfly.storage", "local", {"local": 1}) == 1


def test_unknown_name_lists_known_ones():
    with pytest.raises(ConfigError) as err:
        plugins.load("dragonfly.no-such-group", "nope", {"local": 1, "redis": 2})
    assert "choose one of local, redis" in str(err.value)
