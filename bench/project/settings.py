"""Settings of the bench project. `BENCH_LAYER` picks the channel layer (memory, redis,
pubsub) and `BENCH_REDIS` its Redis (the harness's private redis-server, so benchmark
traffic never reaches another process's pub/sub channels)."""

from __future__ import annotations

import os

SECRET_KEY = "bench-secret-key-not-for-production-0123456789abcdef"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "channels",
    "mizan_channels",
    "bench.project",
]
# What a default `startproject` keeps on the request path that matters for an API call.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "bench.project.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
ASGI_APPLICATION = "bench.project.asgi.application"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

MIZAN_CACHE_SECRET = "bench-cache-secret-0123456789abcdefghijklmnopqrstuv"
MIZAN_MWT_SECRET = "bench-mwt-secret-0123456789abcdefghijklmnopqrstuvwx"
# The default (2,000 requests/s per socket) is an abuse limit; one benchmark socket goes past
# it on purpose (pipelining), and the peers have no such limit.
MIZAN_RATE_LIMIT = 1_000_000
MIZAN_RATE_ABUSE_STRIKES = 1_000_000
# BENCH_SYNC_WORKERS: try pool sizes (0, the library default: min(32, CPUs + 4)).
MIZAN_SYNC_WORKERS = int(os.environ.get("BENCH_SYNC_WORKERS", "0"))

_layer = os.environ.get("BENCH_LAYER", "memory")
_redis = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")
_host = {"address": _redis, "socket_timeout": 10}
if _layer == "memory":
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
elif _layer == "redis":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [_host]},
        }
    }
elif _layer == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [_host]},
        }
    }
else:
    raise ValueError(f"BENCH_LAYER={_layer!r}: expected memory, redis or pubsub.")
