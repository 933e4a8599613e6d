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
    """A WSGI app for external servers (``gunicorn -k gevent 'supernode.wsgi:application()'``)."""
    patch()
    from supernode.app import create_app
    from supernode.config import load_config
    return create_app(load_config(config_path))
