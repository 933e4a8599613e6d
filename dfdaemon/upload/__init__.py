"""The peer upload server (``dfget server``): serves this host's downloaded pieces to other peers.

Exports resolve lazily, so ``python -m dfdaemon.upload`` can patch gevent before
anything imports sockets or ssl.
"""
from importlib import import_module

_EXPORTS = {
    "UploadApp": "app", "create_upload_app": "app", "UploaderClient": "client", "UploadGC": "gc",
    "ensure_upload_server": "launcher", "notify_finish": "launcher", "UploadRate": "rate",
    "UploadServer": "server", "candidate_ports": "server", "UploadService": "service",
    "TaskRecord": "tasks", "TaskTable": "tasks",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
