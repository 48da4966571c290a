"""Checks of `CHANNEL_LAYERS`, which mizan's own traffic never uses but users' `group_send`
code and consumers do: a layer configuration known to break them is reported at start-up."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core import checks

from ..broker import is_channels_redis, layer_class

#: channels_redis's core layer blocks in BRPOP for this long in every idle `receive()`.
BRPOP_SECONDS = 5


def _redis_major() -> int:
    try:
        import redis
    except ImportError:
        return 0
    return int(str(redis.__version__).split(".")[0])


def _socket_timeout(host: Any) -> float | None:
    """The host's socket_timeout: the URL's query first (redis-py's from_url lets it win),
    then a dict entry; None when unset. An explicit None in a dict is redis-py's "no
    timeout": the fix, as good as infinity."""
    address = host.get("address", "") if isinstance(host, dict) else host
    if isinstance(address, str):
        found = parse_qs(urlsplit(address).query).get("socket_timeout")
        if found:
            return _seconds(found[0])
    if isinstance(host, dict) and "socket_timeout" in host:
        value = host["socket_timeout"]
        return float("inf") if value is None else _seconds(value)
    return None


def _seconds(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _is_core_layer(backend: str) -> bool:
    """channels_redis's core layer or a subclass: mizan_channels.layers.RedisChannelLayer, or
    a project's own."""
    if not is_channels_redis(backend):
        return False
    try:
        from channels_redis.core import RedisChannelLayer
    except ImportError:  # the redis extra isn't installed: Channels reports the BACKEND
        return False

    cls = layer_class(backend)
    return cls is not None and issubclass(cls, RedisChannelLayer)


@checks.register()
def check_layers(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """redis-py 8 made `socket_timeout` default to 5 s, the core layer's BRPOP wait: every
    consumer idle for 5 s dies with `TimeoutError` (channels_redis#422; measured: 5.1 s with
    redis-py 8.1, alive after 11 s with `socket_timeout: 10`)."""
    if _redis_major() < 8:
        return []
    out: list[checks.CheckMessage] = []
    for alias, layer in getattr(settings, "CHANNEL_LAYERS", {}).items():
        if not _is_core_layer(str(layer.get("BACKEND", ""))):
            continue
        hosts = layer.get("CONFIG", {}).get("hosts") or ["redis://127.0.0.1:6379"]
        short = [h for h in hosts if (_socket_timeout(h) or BRPOP_SECONDS) <= BRPOP_SECONDS]
        if short:
            out.append(
                checks.Warning(
                    f"CHANNEL_LAYERS[{alias!r}] is channels_redis's core layer on redis-py 8, "
                    f"whose {BRPOP_SECONDS} s default socket_timeout equals the layer's "
                    "blocking read: every consumer of yours idle for 5 s dies with TimeoutError.",
                    hint='Give each host a longer timeout, e.g. {"address": REDIS_URL, '
                    '"socket_timeout": 10}, or use the pub/sub layer: '
                    "mizan_channels.layers.RedisPubSubChannelLayer (or channels_redis.pubsub's) "
                    "(docs/deployment.md).",
                    id="mizan_channels.W018",
                )
            )
    return out
