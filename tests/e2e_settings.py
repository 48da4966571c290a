"""Settings for end-to-end tests: a shared SQLite file and, when MIZAN_E2E_REDIS is set,
channels_redis plus Redis fan-out, so several daphne processes serve one app."""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["MIZAN_E2E_DB"],
    }
}
_redis = os.environ.get("MIZAN_E2E_REDIS", "")
if _redis:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": _redis, "socket_timeout": 10}]},
        }
    }
    MIZAN_REDIS_URL = _redis
DEBUG = False
