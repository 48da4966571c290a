"""Production settings: DEBUG off, PostgreSQL, secrets and hosts only from the environment.

    DJANGO_SETTINGS_MODULE=example_chat.settings_production

DATABASE_URL is required (postgres://user:password@host:port/name; on a CI machine with
trust auth, postgres://postgres@127.0.0.1:5432/test): a production process must never fall
back to some default database. Everything else is in settings.py.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_DEBUG", "0")
if not os.environ.get("DATABASE_URL"):
    raise ImproperlyConfigured(
        "DATABASE_URL is not set: production settings need their PostgreSQL database, e.g. "
        "DATABASE_URL=postgres://chat:PASSWORD@127.0.0.1:5432/chat (docs/deployment.md)."
    )

from example_chat.settings import *  # noqa: F403
