"""Checks of the wiring: mizan's URLs in the root URLconf, and an ASGI application that
imports and mounts the socket."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from .. import conf


@checks.register(checks.Tags.urls)
def check_urls(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Without mizan's URLs, HTTP calls, context fetches and MWTs 404, and so does the
    browser runtime's HTTP path; the socket alone still works, hence a warning."""
    if not getattr(settings, "ROOT_URLCONF", None):
        return []
    try:
        reverse("mizan_channels:call", kwargs={"fn": "f"})
    except NoReverseMatch:
        return [
            checks.Warning(
                "mizan_channels.urls is not included in the root URLconf: HTTP calls, "
                "context fetches and MWT requests answer 404.",
                hint=f'Add `path("api/mizan/", include("mizan_channels.urls"))` to '
                f"urlpatterns in {settings.ROOT_URLCONF}.",
                id="mizan_channels.W030",
            )
        ]
    return []


ASGI_HINT = (
    "In asgi.py: `application = wrap_asgi(get_asgi_application())` "
    "(from mizan_channels import wrap_asgi), and ASGI_APPLICATION = '<project>.asgi.application'."
)


def _serves_asgi() -> bool:
    return apps.is_installed("daphne") or apps.is_installed("channels")


@checks.register()
def check_asgi(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """ASGI_APPLICATION imports, and mounts our socket. Importing it runs the project's
    asgi.py, as daphne's runserver does right after its checks: `get_asgi_application()` on
    an already set-up Django only builds the middleware chain. Judged only when the setting
    is set and Channels or daphne is installed, the only cases where anything reads it."""
    path = getattr(settings, "ASGI_APPLICATION", None)
    if not path:
        return _asgi_unset()
    if not _serves_asgi():
        return []
    from ..consumers.routing import StartRefused

    try:
        import_string(path)
    except StartRefused:
        # wrap_asgi refused mizan's settings: check_settings/check_secrets report each error
        # with its own id and hint; W031's "call wrap_asgi()" would only repeat it, wrongly.
        return []
    except Exception as exc:  # whatever asgi.py raises stops the server the same way
        # A warning: checks run before `migrate` too, and an asgi.py that needs the web
        # container's environment must not stop a release step elsewhere.
        return [
            checks.Warning(
                f"ASGI_APPLICATION={path!r} can't be imported: {type(exc).__name__}: {exc}",
                hint=ASGI_HINT,
                id="mizan_channels.W031",
            )
        ]
    # Imports Channels' auth: only once the apps are ready. A flag, not an attribute of the
    # app: an asgi.py may wrap our router in an app of its own, which hides any attribute.
    from ..consumers.socket import MizanConsumer

    if MizanConsumer.mounted:
        return []
    return [
        checks.Warning(
            f"ASGI_APPLICATION={path!r} has no mizan socket: importing it never called "
            "wrap_asgi(), websocket_urlpatterns() or MizanConsumer.as_asgi(), so sockets at "
            f"{conf.get().WS_PATH} are refused.",
            hint=ASGI_HINT,
            id="mizan_channels.W032",
        )
    ]


def _asgi_unset() -> list[checks.CheckMessage]:
    """daphne's runserver serves ASGI_APPLICATION and refuses to start without it; a
    project started with `daphne myproject.asgi:application` doesn't need it."""
    if not apps.is_installed("daphne"):
        return []
    return [
        checks.Warning(
            "ASGI_APPLICATION is not set: `manage.py runserver` (daphne's) can't start.",
            hint=ASGI_HINT,
            id="mizan_channels.W033",
        )
    ]
