"""Wiring of the webhook parts for a composition root: queue, intake, dispatcher, blueprint."""
from __future__ import annotations

from flask import Blueprint

from .blueprint import URL_PREFIX, create_webhooks_blueprint
from .config import WebhookConfig, queue_path_for
from .dispatcher import Dispatcher, PreheatSink
from .intake import WebhookIntake
from .queue import SqliteWorkQueue


class WebhookService:
    """Owns the queue and the dispatcher; ``start``/``stop`` follow the host process."""

    def __init__(self, conf: WebhookConfig, sink: PreheatSink, home_dir: str, on_refused=None,
                 seen=None):
        """``on_refused(receiver, reason)``: called for every delivery refused for its Authorization;
        ``seen``: a dedup memory shared with other supernodes (see :class:`WebhookIntake`), or None."""
        self.conf = conf
        self.queue = SqliteWorkQueue(queue_path_for(conf, home_dir), dedup_window=conf.dedup_window,
                                     max_attempts=conf.max_attempts, lease=conf.lease)
        self.intake = WebhookIntake.from_config(conf, self.queue, on_refused, seen)
        self.dispatcher = Dispatcher(self.queue, sink, workers=conf.workers, backoff=conf.retry_backoff,
                                     backoff_max=conf.retry_backoff_max)

    def blueprint(self, url_prefix: str = URL_PREFIX) -> Blueprint:
        return create_webhooks_blueprint(self.intake, url_prefix)

    def start(self) -> "WebhookService":
        self.dispatcher.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.dispatcher.stop(timeout)
        self.queue.close()
