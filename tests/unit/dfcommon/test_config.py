from dataclasses import dataclass, field

import pytest

from dfcommon import config as cfg
from dfcommon.errors import ConfigError
from dfcommon.units import parse_duration, parse_size


@dataclass
class Inner:
    name: str = "x"


@dataclass
class Sample:
    port: int = 1
    rate: int = field(default="20M", metadata={"parse": parse_size})
    ttl: float = field(default="3m", metadata={"parse": parse_duration})
    verbose: bool = False
    nodes: list[str] = field(default_factory=list)
    inner: Inner = field(default_factory=Inner)


def test_defaults_are_parsed():
    s = cfg.build(Sample, {})
    assert s.rate == 20 * 1024 * 1024 and s.ttl == 180.0


def test_precedence_yaml_env_overrides(tmp_path):
    p = tmp_path / "c.yml"
    p.write_text("port: 5\nrate: 1M\ninner: {name: y}\nnodes: [a, b]\n")
    env = {"APP_PORT": "6", "APP_INNER_NAME": "z"}
    s = cfg.load(Sample, str(p), "APP", {"verbose": "true", "rate": None}, environ=env)
    assert (s.port, s.rate, s.inner.name, s.nodes, s.verbose) == (6, 1 << 20, "z", ["a", "b"], True)


def test_unknown_and_bad_values_fail_clearly(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'bogus'"):
        cfg.build(Sample, {"bogus": 1})
    with pytest.raises(ConfigError, match="expected a number"):
        cfg.build(Sample, {"port": "abc"})
    with pytest.raises(ConfigError, match="invalid size"):
        cfg.build(Sample, {"rate": "fast"})
    with pytest.raises(ConfigError, match="does not exist"):
        cfg.read_yaml(str(tmp_path / "missing.yml"))
    (tmp_path / "bad.yml").write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        cfg.read_yaml(str(tmp_path / "bad.yml"))


def test_units():
    assert parse_size("64KB") == 65536 and parse_size("1.5G") == int(1.5 * (1 << 30)) and parse_size(10) == 10
    assert parse_duration("1h30m") == 5400 and parse_duration("500ms") == 0.5 and parse_duration("15") == 15
    with pytest.raises(ValueError):
        parse_duration("3x")
