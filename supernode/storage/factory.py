"""Build the storage driver named by ``storage_driver`` in the supernode config."""
from __future__ import annotations

from dfcommon.errors import ConfigError

from .local import LocalStorage
from .memory import MemoryStorage

DRIVERS = ("local", "memory")


def create_storage(name: str, home_dir: str):
    """``local`` stores under ``<home_dir>/repo``; ``memory`` keeps bytes in this process."""
    if name == "local":
        return LocalStorage(home_dir)
    if name == "memory":
        return MemoryStorage()
    raise ConfigError(f"unknown storage_driver {name!r}: choose one of {', '.join(DRIVERS)}")


def storage_from_config(config):
    return create_storage(config.storage_driver, config.home_dir)
