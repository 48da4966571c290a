"""`wrap_asgi`: Django's HTTP app plus our sockets, behind origin checks and session auth.

Paths (under MIZAN_WS_PATH, default `/ws/mizan/`):
  /ws/mizan/                  the multiplexed socket (calls, subscriptions, invalidations)
  /ws/mizan/ch/<channel>/     one channel per socket; params from the query string
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.exceptions import ImproperlyConfigured
from django.urls import path as url_path

from .. import conf

# The consumer module imports Django's auth models, so it is imported when routes are built,
# not with this module: `from mizan_channels import wrap_asgi` may come (as in the usual
# asgi.py) before `get_asgi_application()` has loaded the apps.


async def channel_endpoint(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Route `/ws/mizan/ch/<name>/` to a consumer restricted to that channel."""
    from .socket import MizanConsumer

    await MizanConsumer(only=scope["url_route"]["kwargs"]["channel"])(scope, receive, send)


def websocket_urlpatterns(path: str | None = None) -> list[Any]:
    """Our socket routes, for users who build their own ProtocolTypeRouter."""
    from .socket import MizanConsumer

    base = (path or conf.get().WS_PATH).lstrip("/")
    return [
        url_path(base, MizanConsumer.as_asgi()),  # type: ignore[arg-type]
        url_path(base + "ch/<str:channel>/", channel_endpoint),  # type: ignore[arg-type]
    ]


def wrap_asgi(
    django_app: Any,
    *,
    path: str | None = None,
    websocket_routes: Sequence[Any] = (),
) -> ProtocolTypeRouter:
    """Serve `django_app` for HTTP and our sockets (plus `websocket_routes`, yours) for
    WebSocket. Sockets pass `AllowedHostsOriginValidator` (a page from another origin can't
    open them with the user's cookies) and `AuthMiddlewareStack` (the session's user is the
    socket's user).

    Raises ImproperlyConfigured for mizan's setting errors (with DEBUG off, a missing, weak
    or reused secret among them): ASGI servers such as daphne run no system checks, and a
    server started with them would run without the protection they stand for."""
    _refuse_to_start_misconfigured()
    routes = [*websocket_urlpatterns(path), *websocket_routes]
    return ProtocolTypeRouter(
        {
            "http": django_app,
            "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(routes))),
        }
    )


class StartRefused(ImproperlyConfigured):
    """wrap_asgi refused mizan's settings: errors the system checks report themselves."""


def _refuse_to_start_misconfigured() -> None:
    from ..checks import check_secrets, check_settings

    errors = [m for m in [*check_secrets(), *check_settings()] if m.is_serious()]
    if errors:
        raise StartRefused(
            "mizan-channels can't start: " + " ".join(f"{m.msg} ({m.id}) {m.hint}" for m in errors)
        )
