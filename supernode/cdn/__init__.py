"""CDN: fetch each task from its source once, cut it into wrapped pieces, publish them as they land."""
from .gc import DiskGc
from .layout import data_key, download_path, md5_key, meta_key
from .manager import CdnManager
from .metadata import FileMeta, MetaStore
from .types import (FAILED, RUNNING, SOURCE_ERROR, SUCCESS, WAITING, Cdn, CdnListener, SourceInfo,
                    SourceRequest)

__all__ = ["DiskGc", "data_key", "download_path", "md5_key", "meta_key", "CdnManager", "FileMeta", "MetaStore",
           "FAILED", "RUNNING", "SOURCE_ERROR", "SUCCESS", "WAITING", "Cdn", "CdnListener", "SourceInfo",
           "SourceRequest"]
