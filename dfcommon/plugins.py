"""Plug-in lookup by name through importlib.metadata entry-point groups.

Groups: ``dragonfly.policies`` (scheduler piece-selection policies),
``dragonfly.storage`` (storage drivers), ``dragonfly.event_sinks`` (webhook /
preheat event sinks), ``dragonfly.credentials`` (registry credential providers).
A name not built in and not installed fails with ConfigError listing the known ones.
"""
from importlib import metadata

from dfcommon.errors import ConfigError

GROUPS = ("dragonfly.policies", "dragonfly.storage", "dragonfly.event_sinks", "dragonfly.credentials")


def installed(group):
    """Entry points of one group, by name."""
    return {ep.name: ep for ep in metadata.entry_points(group=group)}


def load(group, name, builtins=None, setting=None):
    """Return the object named ``name``: a built-in first, then an installed plug-in.

    ``setting`` names the config key in the error (for example ``storage_driver``)."""
    builtins = builtins or {}
    if name in builtins:
        return builtins[name]
    eps = installed(group)
    if name in eps:
        return eps[name].load()
    known = sorted(set(builtins) | set(eps))
    what = f"{setting} {name!r}" if setting else f"{group} plug-in {name!r}"
    raise ConfigError(f"unknown {what}: choose one of {', '.join(known) or '(none)'} "
                      f"(plug-ins come from the entry-point group {group})")
