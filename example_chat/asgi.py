"""The ASGI application daphne serves: Django for HTTP, mizan's socket at /ws/mizan/.

daphne example_chat.asgi:application      # from the repository root (PYTHONPATH=.)
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_chat.settings")

from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

# Built first: it sets Django up, which the imports below need.
django_app = get_asgi_application()

from mizan_channels import wrap_asgi  # noqa: E402

if settings.SERVE_STATIC:
    # Development only: behind nginx, /static/ is served from STATIC_ROOT (collectstatic).
    django_app = ASGIStaticFilesHandler(django_app)  # type: ignore[assignment]

application = wrap_asgi(django_app)
