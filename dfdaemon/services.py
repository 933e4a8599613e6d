"""The dfdaemon's object graph, built once by the composition root and injected everywhere.

``build_services(config)`` wires: upstream selection, the upstream HTTP client, credential
resolution (:class:`UpstreamAuth`), the access guard (:class:`AccessGuard`), the verified blob cache,
the P2P downloader (in-process, with this process's embedded upload server) and the blob and
passthrough services. Tests inject their own parts through the keyword arguments.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from dfdaemon.metrics import DfdaemonMetrics
from dfdaemon.mirror.blobs import BlobService
from dfdaemon.mirror.lazy_range import LazyRanges
from dfdaemon.mirror.pulls import PullLog
from dfdaemon.mirror.cache import BlobCache
from dfdaemon.mirror.fetch import BlobFetcher
from dfdaemon.mirror.passthrough import Passthrough
from dfdaemon.mirror.upstream_http import UpstreamHttp
from dfdaemon.mirror.upstreams import UpstreamSelector, build_selector

log = logging.getLogger(__name__)

USER_AGENT = "dfdaemon/0.1.0"


class AllowAllAccess:
    """Access guard that allows every pull (``access: none``; only for trusted single-user hosts)."""

    def check(self, upstream, repository, digest, headers) -> None:
        return None


class InProcessUpload:
    """The downloader's view of the dfdaemon's embedded upload server (no HTTP round trip)."""

    def __init__(self, server):
        self.server = server

    def ensure(self, task_file_name: str) -> int:
        if not self.server.port:
            raise RuntimeError("the upload server is not running")
        self.server.service.check(task_file_name)
        return self.server.port

    def notify_finish(self, port, task_file_name, task_id, cid, super_node) -> None:
        self.server.service.finish(task_file_name, task_id, cid, super_node)

    def rate(self, port, task_file_name, rate) -> int | None:
        return self.server.service.grant_rate(task_file_name, int(rate))


@dataclass
class Services:
    config: Any
    metrics: DfdaemonMetrics
    selector: UpstreamSelector
    http: UpstreamHttp
    auth: Any
    access: Any
    cache: BlobCache
    passthrough: Passthrough
    blobs: BlobService
    downloader: Any = None
    upload_server: Any = None
    extras: dict = field(default_factory=dict)

    def upload_port(self) -> int:
        return self.upload_server.port if self.upload_server is not None else 0

    def close(self) -> None:
        for extra in self.extras.values():
            close = getattr(extra, "close", None)
            if callable(close):
                close()
        self.http.close()
        if self.downloader is not None:
            self.downloader.close()


def build_downloader(config, upload_server):
    from dfdaemon.p2p import Downloader, DownloaderOptions
    opts = DownloaderOptions(work_home=config.downloader_home, nodes=config.node_list,
                             local_limit=config.ratelimit, local_limit_source="dfdaemon ratelimit",
                             min_rate=config.min_rate,
                             total_limit=config.upload.total_limit, client_queue_size=config.client_queue_size,
                             ip=config.local_ip, port=config.peer_port, alive_time=0,
                             expire_time=config.upload.expire,
                             supernode_token=config.supernode_token or None,
                             supernode_tls=config.supernode_tls, supernode_ca=list(config.supernode_ca),
                             upload_scheme="https" if config.upload.tls_cert else "")
    upload = InProcessUpload(upload_server) if upload_server is not None else None
    return Downloader(opts, upload=upload)


def build_upload_server(config):
    if not config.upload.enabled or config.registry_mirror.direct:
        return None
    from dfdaemon.upload import UploadServer
    from dfdaemon.upload.gc import DiskLimits
    os.makedirs(config.data_dir, exist_ok=True)
    from dfdaemon.p2p.trust import trusted_keys_dir
    from dfdaemon.upload.notify import HttpServiceDown
    tls = None
    if config.upload.tls_cert:
        from dfcommon.tls import server_context
        tls = server_context(config.upload.tls_cert, config.upload.tls_key)
    notifier = HttpServiceDown(token=config.supernode_token or None,
                               scheme=config.supernode_scheme,
                               verify=_supernode_verify(config))
    return UploadServer(config.data_dir, ip=config.local_ip or "0.0.0.0", port=config.peer_port, alive=0,
                        expire=config.upload.expire, total_limit=config.upload.total_limit,
                        gc_interval=config.upload.gc_interval, notifier=notifier, ssl_context=tls,
                        trusted_keys_dir=trusted_keys_dir(config.downloader_home),
                        disk_limits=DiskLimits(config.upload.disk_max_used, config.upload.disk_min_free))


def _supernode_verify(config):
    from dfcommon.tls import client_verify
    if len(config.supernode_ca) > 1:
        os.makedirs(config.downloader_home, exist_ok=True)
    return client_verify(config.supernode_ca, config.downloader_home)


def build_prefetch(config, downloader):
    """Layer prefetch through the supernode's preheat API, with the downloader's supernode client (None when
    ``prefetch`` is off or there is no P2P downloader)."""
    if not config.prefetch or downloader is None:
        return None
    from dfdaemon.mirror.prefetch import LayerPrefetch
    return LayerPrefetch(downloader.client, config.node_list)


def build_access(config, auth):
    """The access guard: the privacy layer's :class:`AccessGuard`, or allow-all when ``access: none``."""
    if config.access == "none":
        log.warning("access checks are off (access: none): any client may read cached blobs")
        return AllowAllAccess()
    from dfdaemon.mirror.access import AccessGuard
    return AccessGuard(upstream_auth=auth, timeout=(config.connect_timeout, config.upstream_timeout))


def build_credential_providers(config) -> list:
    """The ``credential_providers`` plug-ins, each built with the config: ``(name, source)`` pairs. An unknown
    name is a ConfigError listing the installed ones (docs/plugins.md)."""
    from dfcommon import plugins
    return [(name, plugins.load("dragonfly.credentials", name, setting="credential_providers")(config))
            for name in config.credential_providers]


def _both(first, second):
    def call(value):
        first(value)
        second(value)
    return call


def build_services(config, downloader=None, upload_server=None, access=None, auth=None, metrics=None,
                   use_p2p: bool | None = None) -> Services:
    from dfdaemon.mirror.credentials import UpstreamAuth
    metrics = metrics or DfdaemonMetrics()
    selector = build_selector(config)
    http = UpstreamHttp(config.connect_timeout, config.upstream_timeout, user_agent=USER_AGENT)
    auth = auth or UpstreamAuth(docker_config_path=config.docker_config or None,
                                timeout=(config.connect_timeout, config.upstream_timeout),
                                providers=build_credential_providers(config))
    access = access or build_access(config, auth)
    cache = BlobCache(config.cache_dir, config.cache.max_size)
    p2p = (not config.registry_mirror.direct) if use_p2p is None else use_p2p
    pulls = PullLog()
    if p2p and downloader is None:
        if upload_server is None:
            upload_server = build_upload_server(config)
        downloader = build_downloader(config, upload_server)
        downloader.on_limit_wait = _both(metrics.ratelimit_wait.inc, pulls.limit_waited)
    fetcher = BlobFetcher(downloader if p2p else None, http, metrics, filters=config.task_filters,
                          direct_only=not p2p)
    passthrough = Passthrough(http, auth, metrics, prefetch=build_prefetch(config, downloader) if p2p else None)
    lazy = LazyRanges(http, metrics, gap=config.lazy_range_gap) if config.lazy_range_gap > 0 else None
    blobs = BlobService(cache, fetcher, passthrough, access, auth, metrics, stall_timeout=config.stall_timeout,
                        pulls=pulls, lazy_ranges=lazy)
    return Services(config, metrics, selector, http, auth, access, cache, passthrough, blobs, downloader,
                    upload_server)
