"""Which Django cache the context cache lives in, and a Redis flavour that never unpickles.

`MIZAN_CACHE_ALIAS` names a cache from `CACHES`; else `MIZAN_CACHE_REDIS_URL` builds a Redis
cache whose serializer stores bytes as they are (Django's default pickles, so whoever could
write to Redis could run code here); else, when fan-out crosses processes, the same Redis
cache on the fan-out's Redis; else a process-local memory cache.

Why the cache follows the fan-out: with Redis fan-out, a mutation on process B sends `inv`
to sockets on process A, and A's refetch must not read a value only B dropped. A memory
cache per process would break that promise (docs/contexts.md), so several processes share
the cache unless the settings say otherwise (then system check W015 warns).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import BaseCache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from . import conf
from .broker import redis_url

logger = logging.getLogger("mizan_channels")

#: Redis key prefix of the cache built from MIZAN_CACHE_REDIS_URL (keys: mizan:cache:1:<hex>).
REDIS_KEY_PREFIX = "mizan:cache"
#: Name of the process-local cache used when no Redis URL (of the cache or the fan-out) nor
#: alias is set.
LOCMEM_NAME = "mizan-channels"
LOCMEM_MAX_ENTRIES = 10_000


class BytesSerializer:
    """Django Redis cache serializer that stores bytes as they are and never unpickles.

    Use it for any cache alias you point `MIZAN_CACHE_ALIAS` at:
    `"OPTIONS": {"serializer": "mizan_channels.cache.BytesSerializer"}`.
    """

    def dumps(self, obj: Any) -> bytes:
        if isinstance(obj, bytes):
            return obj
        raise TypeError(
            f"mizan's cache stores bytes only, got {type(obj).__name__}; use another cache "
            "alias for other values."
        )

    def loads(self, data: bytes) -> bytes:
        return bytes(data)


class _ReusedClient(RedisCacheClient):
    """Django's Redis cache client builds a `redis.Redis` per operation (about 0.2 ms on a
    small machine, as much as the round trip); one per pool is enough: they are thread-safe."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reused: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)  # type: ignore[attr-defined]
        client = self._reused.get(index)
        if client is None:
            client = self._reused[index] = super().get_client(key, write=write)
        return client


class MizanRedisCache(RedisCache):
    """The Redis cache built from MIZAN_CACHE_REDIS_URL: bytes only, clients reused."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _ReusedClient


def cache_redis_url() -> str:
    """The Redis the context cache is built on when no alias is set: MIZAN_CACHE_REDIS_URL,
    else the fan-out's Redis (MIZAN_REDIS_URL or the channels_redis host), else ""."""
    return conf.get().CACHE_REDIS_URL or redis_url()


def build_cache() -> tuple[BaseCache, bool]:
    """The cache to use, and whether it lives in this process (then it is called on the
    event loop directly: no network, no thread hop)."""
    s = conf.get()
    if s.CACHE_ALIAS:
        cache = caches[s.CACHE_ALIAS]
        if isinstance(cache, RedisCache) and not isinstance(
            cache._cache._serializer,  # type: ignore[attr-defined]
            BytesSerializer,
        ):
            logger.warning(
                "MIZAN_CACHE_ALIAS=%r is a Redis cache with a pickling serializer: whoever can "
                "write to that Redis can run code in this process. Set its OPTIONS "
                "'serializer' to 'mizan_channels.cache.BytesSerializer'.",
                s.CACHE_ALIAS,
            )
        return cache, isinstance(cache, LocMemCache)
    url = cache_redis_url()
    if url:
        params = {
            "TIMEOUT": s.CACHE_TIMEOUT,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
            "OPTIONS": {"serializer": BytesSerializer, "socket_timeout": 5},
        }
        return MizanRedisCache(url, params), False
    params = {"TIMEOUT": s.CACHE_TIMEOUT, "OPTIONS": {"MAX_ENTRIES": LOCMEM_MAX_ENTRIES}}
    return LocMemCache(LOCMEM_NAME, params), True
