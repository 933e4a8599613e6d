"""Runs the proxy handler the way the dfdaemon does: a gevent monkey-patched process with one hub.

Usage: python -m tests.integration.dfdaemon_proxy.proxy_process PORT CONFIG_JSON
(CONFIG_JSON holds the ``proxies`` and ``hijack_https`` sections).
"""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402

from gevent.pywsgi import WSGIServer  # noqa: E402

from dfdaemon.proxy import Proxy, parse_hijack, parse_proxies  # noqa: E402
from tests.integration.dfdaemon_proxy.servers import mirror_app  # noqa: E402


def main(argv):
    port, config = int(argv[0]), json.loads(argv[1])
    proxy = Proxy(parse_proxies(config.get("proxies")), parse_hijack(config.get("hijack_https")))
    server = WSGIServer(("127.0.0.1", port), mirror_app, handler_class=proxy.handler_class(), log=None)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
