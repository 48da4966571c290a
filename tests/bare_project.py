"""A project that forgot mizan's wiring, for system checks W030 and W032: a URLconf without
mizan_channels.urls and a plain Django ASGI app without wrap_asgi()."""

from __future__ import annotations

from django.core.asgi import get_asgi_application
from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
application = get_asgi_application()
