"""A small supernode-like process for the webhook tests: gevent-patched, Flask, pywsgi.

Mounts the webhook blueprint, drains the queue into a RecordingSink and exposes what the
sink received at ``GET /_test/recorded``. Run: ``python -m tests.integration.webhooks.webhook_server
--port P --home DIR --config '{"harbor_auth": [...]}'``.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from flask import Flask, jsonify  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from webhooks import RecordingSink, WebhookService, build_webhook_config  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--home", required=True)
    p.add_argument("--config", default="{}")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    conf = build_webhook_config(json.loads(args.config))
    sink = RecordingSink()
    service = WebhookService(conf, sink, args.home)
    service.dispatcher.poll_interval = 0.1
    app = Flask("webhook-test-server")
    app.register_blueprint(service.blueprint())

    @app.get("/_test/recorded")
    def recorded():
        with sink._cond:
            events = [e.to_dict() for e in sink.events]
        return jsonify({"calls": sink.calls, "events": events})

    server = WSGIServer(("127.0.0.1", args.port), app, log=None)
    service.start()

    def shutdown(*_):
        server.stop(timeout=2)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    try:
        server.serve_forever()
    finally:
        service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
