"""Schema of the dfdaemon's ``proxies`` and ``hijack_https`` config sections.

``proxies`` is a list of rules ``{regx, use_https, direct, redirect}``; ``hijack_https`` is
``{cert, key, hosts: [{regx, insecure, certs}]}``. Both parsers reject unknown keys, wrong
types, regular expressions that do not compile and missing files with a :class:`ConfigError`
that names the offending entry.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from dfcommon.errors import ConfigError

RULE_KEYS = ("regx", "use_https", "direct", "redirect")
HIJACK_KEYS = ("cert", "key", "hosts")
HOST_KEYS = ("regx", "insecure", "certs")
_REDIRECT = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+)(:\d{1,5})?$")


@dataclass(frozen=True)
class ProxyRule:
    """One ``proxies[]`` entry; the pattern is searched in the full request URL."""
    regx: str
    use_https: bool = False
    direct: bool = False
    redirect: str = ""
    pattern: re.Pattern = field(default=None, compare=False, repr=False)

    def match(self, url: str) -> bool:
        return self.pattern.search(url) is not None


@dataclass(frozen=True)
class HijackHost:
    """One ``hijack_https.hosts[]`` entry; the pattern is searched in ``host:port``."""
    regx: str
    insecure: bool = False
    certs: tuple = ()
    pattern: re.Pattern = field(default=None, compare=False, repr=False)

    def match(self, authority: str) -> bool:
        return self.pattern.search(authority) is not None


@dataclass(frozen=True)
class HijackConfig:
    """The ``hijack_https`` section: a CA (or plain) certificate and key, and the hosts to intercept."""
    cert: str = ""
    key: str = ""
    hosts: tuple = ()

    @property
    def enabled(self) -> bool:
        return bool(self.cert and self.key and self.hosts)


def _mapping(value, where: str, keys: tuple) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping, got {value!r}")
    for key in value:
        if key not in keys:
            raise ConfigError(f"{where}: unknown key {key!r} (valid keys: {', '.join(keys)})")
    return value


def _bool(value, where: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(f"{where}: expected true or false, got {value!r}")


def _regex(value, where: str) -> re.Pattern:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: a non-empty regular expression is required")
    try:
        return re.compile(value)
    except re.error as e:
        raise ConfigError(f"{where}: bad regular expression {value!r}: {e}") from None


def _file(value, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: a file path is required")
    path = os.path.expanduser(value)
    if not os.path.isfile(path):
        raise ConfigError(f"{where}: file {value!r} does not exist")
    return path


def parse_rule(value, where: str = "proxies[0]") -> ProxyRule:
    data = _mapping(value, where, RULE_KEYS)
    pattern = _regex(data.get("regx"), f"{where}.regx")
    redirect = data.get("redirect") or ""
    if not isinstance(redirect, str) or (redirect and not _REDIRECT.match(redirect)):
        raise ConfigError(f"{where}.redirect: expected host or host:port, got {redirect!r}")
    return ProxyRule(regx=pattern.pattern, use_https=_bool(data.get("use_https", False), f"{where}.use_https"),
                     direct=_bool(data.get("direct", False), f"{where}.direct"), redirect=redirect,
                     pattern=pattern)


def parse_proxies(value) -> list[ProxyRule]:
    """Parse the ``proxies`` section (a list of rules, or None for none)."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"proxies: expected a list of rules, got {value!r}")
    return [parse_rule(item, f"proxies[{i}]") for i, item in enumerate(value)]


def parse_host(value, where: str = "hijack_https.hosts[0]") -> HijackHost:
    data = _mapping(value, where, HOST_KEYS)
    pattern = _regex(data.get("regx"), f"{where}.regx")
    certs = data.get("certs") or []
    if isinstance(certs, str):
        certs = [certs]
    if not isinstance(certs, (list, tuple)):
        raise ConfigError(f"{where}.certs: expected a list of files, got {certs!r}")
    return HijackHost(regx=pattern.pattern, insecure=_bool(data.get("insecure", False), f"{where}.insecure"),
                      certs=tuple(_file(c, f"{where}.certs[{i}]") for i, c in enumerate(certs)), pattern=pattern)


def parse_hijack(value) -> HijackConfig:
    """Parse the ``hijack_https`` section (a mapping, or None/{} for no interception)."""
    if not value:
        return HijackConfig()
    data = _mapping(value, "hijack_https", HIJACK_KEYS)
    hosts = data.get("hosts") or []
    if not isinstance(hosts, (list, tuple)):
        raise ConfigError(f"hijack_https.hosts: expected a list, got {hosts!r}")
    parsed = tuple(parse_host(h, f"hijack_https.hosts[{i}]") for i, h in enumerate(hosts))
    cert, key = data.get("cert") or "", data.get("key") or ""
    if parsed and not (cert and key):
        raise ConfigError("hijack_https: cert and key are required when hosts are listed "
                          "(create them with `dfdaemon gen-ca`)")
    if bool(cert) != bool(key):
        raise ConfigError("hijack_https: cert and key go together")
    return HijackConfig(cert=_file(cert, "hijack_https.cert") if cert else "",
                        key=_file(key, "hijack_https.key") if key else "", hosts=parsed)
