"""Build the storage driver named by ``storage_driver`` in the supernode config.

Built-in drivers are ``local`` and ``memory``; any other name is looked up in the ``dragonfly.storage``
entry-point group (see docs/plugins.md). An entry point is a callable ``factory(home_dir) -> StorageDriver``.
"""
from __future__ import annotations

from dfcommon import plugins

from .local import LocalStorage
from .memory import MemoryStorage

GROUP = "dragonfly.storage"
BUILTINS = {"local": LocalStorage, "memory": lambda home_dir: MemoryStorage()}
DRIVERS = tuple(BUILTINS)


def available_drivers() -> list[str]:
    """Built-in and installed driver names."""
    return sorted(set(BUILTINS) | set(plugins.installed(GROUP)))


def create_storage(name: str, home_dir: str):
    """``local`` stores under ``<home_dir>/repo``; ``memory`` keeps bytes in this process; other names are
    installed plug-ins. An unknown name raises ConfigError listing the known ones."""
    factory = plugins.load(GROUP, name, BUILTINS, setting="storage_driver")
    return factory(home_dir)


def storage_from_config(config):
    return create_storage(config.storage_driver, config.home_dir)
