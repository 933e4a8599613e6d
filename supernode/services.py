"""The Services container: every long-lived object of one supernode, built once by the composition root."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from supernode.metrics import SupernodeMetrics
from supernode.scheduler import (CdnEvents, Limits, PieceErrorQueue, Scheduler, SchedulerState, TaskManager,
                                 create_policy)


@dataclass
class Services:
    config: Any
    metrics: SupernodeMetrics
    storage: Any
    cdn: Any
    state: SchedulerState
    scheduler: Scheduler
    manager: TaskManager
    piece_errors: PieceErrorQueue
    extras: dict = field(default_factory=dict)      # later components (preheat, webhooks) hang here

    def close(self) -> None:
        self.piece_errors.close()
        cluster = self.extras.get("cluster")
        if cluster is not None:
            cluster.stop()


def build_services(config, storage=None, cdn=None, metrics=None, rng: random.Random | None = None) -> Services:
    """Build the object graph; ``storage``/``cdn``/``metrics`` may be injected (tests, other roots)."""
    metrics = metrics or SupernodeMetrics()
    policy = create_policy(config.scheduler_policy)            # unknown name -> ConfigError
    if storage is None and cdn is None:
        from supernode.storage import storage_from_config
        storage = storage_from_config(config)
    if cdn is None:
        from supernode.cdn.manager import CdnManager
        cdn = CdnManager(config, storage, metrics)
    state = SchedulerState(metrics, config.advertise_ip)
    scheduler = Scheduler(state.progress, state.peers, policy, Limits.from_config(config), rng)
    piece_errors = PieceErrorQueue(cdn, on_bad_task=state.drop_task)
    manager = TaskManager(config, state, scheduler, cdn, piece_errors)
    cdn.set_listener(CdnEvents(state))
    services = Services(config, metrics, storage, cdn, state, scheduler, manager, piece_errors)
    cluster = getattr(config, "cluster", None)
    if cluster is not None and cluster.enabled:
        from supernode.cluster.wiring import install_cluster
        install_cluster(services)           # shared state in Redis; the embedded default stays as above
    return services
