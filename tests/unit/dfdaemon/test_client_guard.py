"""The listener rule of dfdaemon/client_guard.py: loopback binds need nothing, other binds need allowed_clients
or client_auth none; the address decision (loopback always, listed networks, IPv4-mapped IPv6, junk)."""
import pytest

from dfcommon.errors import ConfigError
from dfdaemon.client_guard import ClientGuard, check_listener, is_loopback_bind, parse_networks
from dfdaemon.config import load_config


def conf(**kw):
    return load_config(None, {}, environ={f"DFDAEMON_{k.upper()}": v for k, v in kw.items()})


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.4.5", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_binds(host):
    assert is_loopback_bind(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "node1.example", ""])
def test_other_binds(host):
    assert not is_loopback_bind(host)


def test_loopback_bind_needs_nothing():
    assert check_listener(conf()) is None


def test_open_bind_is_refused_with_the_settings_named():
    with pytest.raises(ConfigError) as e:
        check_listener(conf(host_ip="0.0.0.0"))
    assert "allowed_clients" in str(e.value) and "client_auth: none" in str(e.value)
    assert check_listener(conf(host_ip="0.0.0.0", client_auth="none")) is None
    guard = check_listener(conf(host_ip="0.0.0.0", allowed_clients="10.0.0.0/8,192.168.1.7"))
    assert guard is not None and len(guard.networks) == 2


def test_guard_decisions():
    g = ClientGuard(parse_networks(["10.0.0.0/8", "192.168.1.7", "fd00::/8"]))
    assert g.allows("10.9.9.9") and g.allows("192.168.1.7") and g.allows("fd00::5")
    assert g.allows("127.0.0.1") and g.allows("::1") and g.allows("::ffff:10.1.1.1")
    assert not g.allows("192.168.1.8") and not g.allows("fe80::1%eth0") and not g.allows("junk")
    assert not g.allows("::ffff:8.8.8.8")


@pytest.mark.parametrize("entries", [["10.0.0.0/33"], ["not-a-net"], "10.0.0.0/8"])
def test_bad_entries(entries):
    with pytest.raises(ConfigError):
        parse_networks(entries)


def test_bad_mode_and_entry_fail_at_load():
    with pytest.raises(ConfigError, match="client_auth"):
        conf(client_auth="open")
    with pytest.raises(ConfigError, match=r"allowed_clients\[1\]"):
        conf(allowed_clients="10.0.0.0/8,300.1.1.1")
