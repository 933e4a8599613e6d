"""Process entry helpers: patch gevent once, before anything else is imported."""
from __future__ import annotations

from dfcommon.gevent_patch import patch  # noqa: F401  (re-exported: the CLIs call wsgi.patch())


def application(config_path: str | None = None):
    """A WSGI app for external servers (``gunicorn -k gevent 'dfdaemon.wsgi:application()'``).

    Without :class:`dfdaemon.server.DfdaemonServer` there is no embedded upload server: blobs are
    downloaded through P2P without serving pieces to other peers.
    """
    patch()
    from dfdaemon.app import create_app
    from dfdaemon.config import load_config
    return create_app(load_config(config_path))
