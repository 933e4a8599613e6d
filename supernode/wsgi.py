"""Process entry helpers: patch gevent once, before anything else is imported."""
from __future__ import annotations

from dfcommon.gevent_patch import patch  # noqa: F401  (re-exported: the CLIs call wsgi.patch())


def application(config_path: str | None = None):
    """The API app for external servers (``gunicorn -k gevent 'supernode.wsgi:application()'``).

    GC, preheat, webhook dispatch and cron policies run in the background as with ``supernode``;
    the piece server (download port) is not started: run ``supernode`` itself to serve pieces."""
    patch()
    from supernode.config import load_config
    from supernode.server import SupernodeServer
    from supernode.auth.defaults import apply_safe_default
    config = load_config(config_path)
    apply_safe_default(config)
    from supernode.auth.webhook_defaults import apply_webhook_default
    apply_webhook_default(config)
    server = SupernodeServer(config)
    server.start(listen=False)
    return server.app
