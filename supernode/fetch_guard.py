"""The ``fetch:`` section of the supernode config and the one :class:`~dfcommon.ssrf.FetchPolicy` built from it.

Every URL the supernode fetches on a client's behalf (task sources at ``/peer/registry`` and back-to-source,
preheat registries and their token realms) goes through a session guarded by this policy. Environment:
``SUPERNODE_FETCH_ALLOW=127.0.0.0/8,::1``, ``SUPERNODE_FETCH_DENY=...``, ``SUPERNODE_FETCH_ALLOW_ONLY=true``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dfcommon.http import make_session
from dfcommon.ssrf import FetchPolicy, guard_session


@dataclass
class FetchConfig:
    allow: list[str] = field(default_factory=list)   # hosts / *.domains / networks allowed although local (loopback)
    deny: list[str] = field(default_factory=list)    # hosts / *.domains / networks never fetched
    allow_only: bool = False                      # fetch only what ``allow`` names


def validate_fetch(conf: FetchConfig) -> FetchConfig:
    FetchPolicy.from_config(conf)                 # raises ConfigError naming a bad entry
    return conf


def build_policy(config, metrics=None) -> FetchPolicy:
    """The policy of ``config.fetch`` (a supernode config), counting refusals on ``metrics``."""
    conf = getattr(config, "fetch", None) or FetchConfig()
    counter = getattr(metrics, "fetch_refused", None)
    return FetchPolicy.from_config(conf, on_refused=(lambda reason: counter.labels(reason).inc()) if counter else None)


def guarded_session_factory(policy: FetchPolicy, retries: int = 2):
    """A ``session_factory(timeout)`` for the CDN source client whose sessions obey ``policy``."""
    def factory(timeout):
        return guard_session(make_session(timeout=timeout, retries=retries), policy)
    return factory
