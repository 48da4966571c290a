"""Production settings: DEBUG off, PostgreSQL, secrets and hosts only from the environment.

    DJANGO_SETTINGS_MODULE=example_chat.settings_production

Defaults to the PostgreSQL database `test` on 127.0.0.1:5432 (user `postgres`, trust auth, as
on a CI machine); set DATABASE_URL for anything else. Everything else is in settings.py.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")

from example_chat.settings import *  # noqa: F403
