"""URLs to `include()` under a prefix of your choice, e.g. `path("api/mizan/", include(...))`.

Route functions (`@client(route=...)`) are mounted here too, under the same prefix; the
URLconf is imported after `AppConfig.ready()`, so every registered function is known.
"""

from __future__ import annotations

from django.urls import URLPattern, path

from . import views
from .registry import registry

app_name = "mizan_channels"


def _route_patterns() -> list[URLPattern]:
    return [
        path(spec.route.lstrip("/"), views.route_view(spec), name=f"route-{spec.name}")
        for spec in registry.iter_functions()
        if spec.route is not None
    ]


urlpatterns = [
    path("call/<str:fn>", views.call_view, name="call"),
    path("ctx/<str:name>", views.context_view, name="context"),
    path("mwt", views.mwt_view, name="mwt"),
    *_route_patterns(),
]
