"""The P2P downloader shared by ``dfget`` and the dfdaemon (Dragonfly 1.x peer protocol)."""
from .downloader import Downloader, DownloaderOptions, DownloadRequest, DownloadStream
from .result import BackSourceReason, DownloadError, ErrorCode, Result, exit_code

__all__ = ["Downloader", "DownloaderOptions", "DownloadRequest", "DownloadStream",
           "BackSourceReason", "DownloadError", "ErrorCode", "Result", "exit_code"]
