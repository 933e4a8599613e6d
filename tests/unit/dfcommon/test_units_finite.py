"""Sizes and durations must be finite: an infinite or NaN value in a config file is a clear error, not a crash
(found by fuzzing dfget's config file: ``localLimit: .inf`` raised OverflowError)."""
import pytest

from dfcommon.errors import ConfigError
from dfcommon.units import parse_duration, parse_size
from dfdaemon.cli import dfget_config


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_numbers_are_refused(value):
    with pytest.raises(ValueError, match="finite"):
        parse_size(value)
    with pytest.raises(ValueError, match="finite"):
        parse_duration(value)


@pytest.mark.parametrize("text", ["inf", "nan", "-Infinity"])
def test_non_finite_duration_text_is_refused(text):
    with pytest.raises(ValueError, match="finite"):
        parse_duration(text)


@pytest.mark.parametrize("line", ["localLimit: .inf", "stallTimeout: .nan", "clientQueueSize: .inf"])
def test_a_config_file_with_one_is_a_config_error(tmp_path, line):
    path = tmp_path / "dfget.yml"
    path.write_text(line + "\n")
    with pytest.raises(ConfigError):
        dfget_config.load_file_config(str(path))


def test_finite_values_still_parse():
    assert parse_size("20M") == 20 << 20 and parse_size(1.5) == 1 and parse_duration("1h30m") == 5400.0
    assert parse_duration(2) == 2.0 and parse_duration("0.5") == 0.5
