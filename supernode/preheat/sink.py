"""WebhookSink: the preheat engine behind the webhook dispatcher (webhooks' PreheatSink).

A pushed image becomes an image preheat of ``<scheme>://<registry>/v2/<repo>/manifests/<tag or digest>``;
the scheme and the credentials come from ``preheat.registries`` (default https, anonymous). The call
waits for the preheat to finish and raises when it failed, so the dispatcher retries it later.
"""
from __future__ import annotations

import logging

from .config import PreheatConfig, registry_for
from .models import FAILED, IMAGE, SUCCESS

log = logging.getLogger(__name__)


class PreheatFailed(RuntimeError):
    pass


class WebhookSink:
    def __init__(self, service, conf: PreheatConfig, wait_timeout: float | None = None):
        self.service = service
        self.conf = conf
        self.wait_timeout = wait_timeout if wait_timeout is not None else conf.timeout + 60

    def manifest_url(self, event) -> str:
        reg = registry_for(self.conf, event.registry)
        scheme = reg.scheme if reg is not None else "https"
        return f"{scheme}://{event.registry}/v2/{event.repository}/manifests/{event.reference}"

    def preheat_image(self, event) -> None:
        url = self.manifest_url(event)
        rec, created = self.service.create(IMAGE, url, {}, platforms=list(self.conf.platforms))
        log.info("webhook preheat image=%s id=%s created=%s", event.image, rec.id, created)
        rec = self.service.wait(rec.id, self.wait_timeout)
        if rec is None:
            raise PreheatFailed(f"preheat of {url} disappeared")
        if rec.status == FAILED:
            raise PreheatFailed(f"preheat of {url} failed: {rec.error}")
        if rec.status != SUCCESS:
            raise PreheatFailed(f"preheat of {url} did not finish in {self.wait_timeout:.0f}s")
