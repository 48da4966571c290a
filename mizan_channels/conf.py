"""Every `MIZAN_*` setting, its default, and the one object the rest of the package reads.

Settings are read once into a frozen snapshot (the hot path never touches
`django.conf.settings`) and re-read when Django's `setting_changed` fires, so
`override_settings` in tests behaves.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from django.conf import settings as dj_settings
from django.core.signals import setting_changed

PREFIX = "MIZAN_"


@dataclass(frozen=True, slots=True)
class MizanSettings:
    # HMAC key for context cache keys; must be long and secret (system check mizan.E001).
    CACHE_SECRET: str = ""
    # Signing key for MWT socket tokens, distinct from SECRET_KEY (system check mizan.E002).
    MWT_SECRET: str = ""
    # Redis URL for the context cache; unset means the fan-out's Redis (REDIS_URL below, or
    # the channels_redis host) when there is one, else Django's local-memory cache.
    CACHE_REDIS_URL: str = ""
    # Cache alias to use instead of building one from CACHE_REDIS_URL.
    CACHE_ALIAS: str = ""
    # Seconds a cached context value lives.
    CACHE_TIMEOUT: int = 300
    # Redis URL for cross-process fan-out; unset means: the channels_redis layer's host when
    # CHANNEL_LAYERS uses channels_redis, else in-process fan-out only.
    REDIS_URL: str = ""
    # Lifetime of an MWT in seconds.
    MWT_TTL: int = 300
    # Path of the multiplexed socket when mounted by wrap_asgi.
    WS_PATH: str = "/ws/mizan/"
    # Largest frame or HTTP body accepted, in bytes.
    MAX_FRAME_BYTES: int = 1024 * 1024
    # Requests per second per socket (token bucket; the burst is the same number).
    RATE_LIMIT: int = 2000
    # Frames over the rate before the socket is closed as abusive (4008).
    RATE_ABUSE_STRIKES: int = 1000
    # Calls in flight per socket; more are answered `rate_limited`.
    MAX_IN_FLIGHT: int = 64
    # Subscriptions held by one socket.
    MAX_SUBSCRIPTIONS: int = 200
    # Outbound bytes queued for one socket before it is told to resync and its backlog dropped.
    SEND_BUFFER_BYTES: int = 4 * 1024 * 1024
    # Seconds within which memberships are restored after the layer comes back.
    RESUBSCRIBE_WITHIN: float = 10.0
    # Threads per process that run synchronous function bodies and hooks; each that touches
    # the ORM holds a database connection. 0: the stdlib's default, min(32, CPUs + 4).
    SYNC_WORKERS: int = 0
    # Log call arguments at DEBUG level (secret-looking keys are redacted).
    LOG_ARGS: bool = False
    # Seconds between a process's presence heartbeats in Redis.
    PRESENCE_HEARTBEAT: float = 5.0
    # Seconds after its last heartbeat that a process counts as dead: its presence members
    # disappear within PRESENCE_TTL + PRESENCE_HEARTBEAT of a crash. At least 2x HEARTBEAT.
    PRESENCE_TTL: float = 15.0


_current: MizanSettings | None = None


def get() -> MizanSettings:
    """The current settings snapshot."""
    global _current
    if _current is None:
        values: dict[str, Any] = {}
        for f in fields(MizanSettings):
            name = PREFIX + f.name
            if hasattr(dj_settings, name):
                values[f.name] = getattr(dj_settings, name)
        _current = MizanSettings(**values)
    return _current


def _reload(*, setting: str, **_: Any) -> None:
    global _current
    if setting.startswith(PREFIX) or setting in {"CHANNEL_LAYERS", "CACHES"}:
        _current = None


setting_changed.connect(_reload)
