"""Builds the preheat engine, the provider auth and the webhook service on a Services container.

:func:`install` is called by the composition root (``create_app``); the objects hang on
``services.extras`` (``preheat``, ``provider_auth``, ``webhooks``, ``preheat_components``). The
server starts and stops them with its own lifecycle (:meth:`PreheatComponents.start`/``stop``).
"""
from __future__ import annotations

import logging
import os

from .config import PreheatConfig, default_preheat_config, validate_preheat
from .engine import PreheatService
from .sink import WebhookSink
from .store import PreheatStore
from .warmer import CdnWarmer

log = logging.getLogger(__name__)
KEY = "preheat_components"


class PreheatComponents:
    def __init__(self, services):
        config = services.config
        self.conf: PreheatConfig = validate_preheat(getattr(config, "preheat", None) or default_preheat_config())
        home = config.home_dir
        self.store = _store(services, self.conf, home)
        policy = getattr(services.cdn, "fetch_policy", None)
        if policy is None:
            from supernode.fetch_guard import build_policy
            policy = build_policy(config, services.metrics)
        self.preheat = PreheatService(self.conf, self.store, CdnWarmer(services.manager), fetch_policy=policy)
        limit = getattr(services.metrics, "limit_refused", None)
        if limit is not None:
            self.preheat.on_limit = lambda kind: limit.labels(kind).inc()
        self.sink = WebhookSink(self.preheat, self.conf)
        from supernode.api.provider_auth import ProviderAuth
        self.provider_auth = ProviderAuth.from_config(self.conf)
        self.webhooks = None
        wconf = getattr(config, "webhooks", None)
        if wconf is not None and wconf.enabled:
            from supernode.policies.service import policy_service_of
            from supernode.policies.sink import PolicySink
            from webhooks import WebhookService
            # every pushed image is preheated, and event-triggered policies whose filters match start a run
            from .event_sinks import FanoutSink, build_event_sinks
            refused = services.metrics.webhook_refused
            sink_errors = services.metrics.event_sink_errors
            sink = FanoutSink(self.sink, build_event_sinks(config),
                              on_error=lambda name: sink_errors.labels(name).inc())
            self.webhooks = WebhookService(wconf, PolicySink(sink, policy_service_of(services)), home,
                                           on_refused=lambda receiver, reason: refused.labels(receiver, reason).inc(),
                                           seen=_cluster_seen(services, wconf))
        self._started = False

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self.preheat.start()
        if self.webhooks is not None:
            self.webhooks.start()
        log.info("preheat started webhooks=%s auth_mode=%s", self.webhooks is not None, self.conf.auth_mode)

    def stop(self) -> None:
        # the dispatcher stops taking work first; stopping the engine then ends the preheat a worker waits
        # for, and that worker hands its item back to the durable queue (it runs again after a restart)
        if self.webhooks is not None:
            self.webhooks.dispatcher.request_stop()
        self.preheat.stop()
        if self.webhooks is not None:
            self.webhooks.stop()
        self.store.close()
        self._started = False


def _store(services, conf: PreheatConfig, home: str):
    """Preheat records and jobs: in the cluster's Redis (every member sees them), else in this home's SQLite."""
    from supernode.cluster.node import cluster_of
    node = cluster_of(services)
    if node is None:
        return PreheatStore(os.path.join(home, "preheat", "preheat.db"), ttl=conf.ttl)
    from supernode.cluster.preheat_store import RedisPreheatStore
    return RedisPreheatStore(node.redis, node.keys, node.member_id, ttl=conf.ttl, outage=node.outage)


def _cluster_seen(services, wconf):
    """In a cluster, the webhook dedup is one Redis key per push (a delivery reaching two members is queued on
    one); alone, the queue's own dedup window stays the only one."""
    from supernode.cluster.node import cluster_of
    node = cluster_of(services)
    if node is None:
        return None
    from supernode.cluster.seen_once import SharedSeenOnce
    return SharedSeenOnce(node.redis, node.keys, "webhook", wconf.dedup_window, node.member_id, node.outage)


def install(services) -> PreheatComponents:
    comp = services.extras.get(KEY)
    if comp is None:
        comp = PreheatComponents(services)
        services.extras.update({KEY: comp, "preheat": comp.preheat, "provider_auth": comp.provider_auth,
                                "webhooks": comp.webhooks})
    return comp


def components_of(services) -> PreheatComponents | None:
    return services.extras.get(KEY)
