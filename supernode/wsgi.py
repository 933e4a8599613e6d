"""Process entry helpers: patch gevent once, before anything else is imported."""
from __future__ import annotations

_patched = False


def patch() -> None:
    global _patched
    if not _patched:
        from gevent import monkey
        monkey.patch_all()
        _patched = True


def application(config_path: str | None = None):
    """The API app for external servers (``gunicorn -k gevent 'supernode.wsgi:application()'``).

    GC, preheat, webhook dispatch and cron policies run in the background as with ``supernode``;
    the piece server (download port) is not started: run ``supernode`` itself to serve pieces."""
    patch()
    from supernode.config import load_config
    from supernode.server import SupernodeServer
    server = SupernodeServer(load_config(config_path))
    server.start(listen=False)
    return server.app
