"""The Django app: registers system checks and the template tag library."""

from __future__ import annotations

from django.apps import AppConfig


class MizanChannelsConfig(AppConfig):
    name = "mizan_channels"
    label = "mizan_channels"
    verbose_name = "mizan-channels"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
        from .identity import connect_signals

        connect_signals()
