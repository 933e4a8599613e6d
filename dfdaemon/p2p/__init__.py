"""The P2P downloader shared by ``dfget`` and the dfdaemon (Dragonfly 1.x peer protocol).

The names below load on first use, so that importing a light submodule (``options``,
``result``) does not pull in the downloader and its HTTP stack.
"""
from importlib import import_module

_EXPORTS = {
    "Downloader": ".downloader", "DownloadStream": ".downloader",
    "DownloaderOptions": ".options", "DownloadRequest": ".options",
    "BackSourceReason": ".result", "DownloadError": ".result", "ErrorCode": ".result", "Result": ".result",
    "exit_code": ".result",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module, __name__), name)
