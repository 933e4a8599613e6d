"""CDN store drivers: a small Protocol, a local filesystem driver and an in-memory driver."""
from .base import RandomWriter, StatInfo, StorageDriver, check_key
from .factory import DRIVERS, create_storage, storage_from_config
from .local import LocalStorage
from .memory import MemoryStorage

__all__ = ["RandomWriter", "StatInfo", "StorageDriver", "check_key", "DRIVERS", "create_storage",
           "storage_from_config", "LocalStorage", "MemoryStorage"]
