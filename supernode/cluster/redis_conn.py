"""The member's Redis client: built from the cluster config, checked once at start.

A bad URL or a Redis that does not answer at start is a :class:`ConfigError` (the supernode exits non-zero);
later outages are :class:`RedisDown` for the calls that need shared state (HTTP 503, see ``health.py``).
"""
from __future__ import annotations

import redis

from dfcommon.errors import ConfigError

from .config import ClusterConfig, safe_url


def connect(conf: ClusterConfig) -> redis.Redis:
    kw = dict(socket_timeout=conf.redis_timeout, socket_connect_timeout=conf.redis_timeout,
              health_check_interval=30, decode_responses=True)
    try:
        client = redis.Redis.from_url(conf.redis_url, **kw)
    except ValueError as e:
        raise ConfigError(f"cluster.redis_url {safe_url(conf.redis_url)!r} is not a Redis URL: {e}") from None
    if conf.redis_password and not client.connection_pool.connection_kwargs.get("password"):
        client.connection_pool.connection_kwargs["password"] = conf.redis_password
    try:
        client.ping()
    except redis.AuthenticationError as e:
        raise ConfigError(f"cluster.redis_url {safe_url(conf.redis_url)!r}: Redis refused the password: {e}") from None
    except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
        raise ConfigError(f"cluster.redis_url {safe_url(conf.redis_url)!r}: cannot reach Redis: {e}") from None
    except redis.ResponseError as e:
        raise ConfigError(f"cluster.redis_url {safe_url(conf.redis_url)!r}: {e}") from None
    return client
