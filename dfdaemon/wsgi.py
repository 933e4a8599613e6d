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
    """A WSGI app for external servers (``gunicorn -k gevent 'dfdaemon.wsgi:application()'``).

    Without :class:`dfdaemon.server.DfdaemonServer` there is no embedded upload server: blobs are
    downloaded through P2P without serving pieces to other peers.
    """
    patch()
    from dfdaemon.app import create_app
    from dfdaemon.config import load_config
    return create_app(load_config(config_path))
