"""App config: loads the app's server functions and channels when Django starts."""

from __future__ import annotations

from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "example_chat.chat"
    label = "chat"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mizan_channels import mizan_clients

        # Imports example_chat/chat/clients.py: its @client functions are registered and
        # its ReactChannel subclasses register themselves.
        mizan_clients(self.label)
        from mizan_channels.contrib.allauth import enable

        from . import forms  # noqa: F401  (declaring RoomForm registers create_room.*)

        # auth.session (context "global"), auth.sign_in, auth.sign_out, ...: the login page
        # and the log-out button call these (docs/allauth.md).
        enable()
