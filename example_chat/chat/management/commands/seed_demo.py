"""`manage.py seed_demo`: the demo users and rooms, created when missing; prints how to log in.

Idempotent, so `dev.py chat` runs it on every start. Passwords: `CHAT_DEMO_PASSWORD` when set
(tests), otherwise derived from SECRET_KEY, so they are stable across runs of one install,
printed every time, and differ between installs (the dev SECRET_KEY is random per machine).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from example_chat.chat.models import Room

USERS = ("ann", "bob")
#: (slug, title, restricted, members)
ROOMS = (
    ("lobby", "Lobby", False, ()),
    ("random", "Random", False, ()),
    ("ops", "Ops", True, ("ann",)),
)


def demo_password(username: str) -> str:
    fixed = os.environ.get("CHAT_DEMO_PASSWORD")
    if fixed:
        return fixed
    digest = hmac.new(settings.SECRET_KEY.encode(), f"demo:{username}".encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


class Command(BaseCommand):
    help = "Create the demo users (ann, bob) and rooms (ops is restricted to ann); print logins."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Set the demo users' passwords again (logs them out everywhere).",
        )

    @transaction.atomic
    def handle(self, *args: Any, reset_passwords: bool = False, **options: Any) -> None:
        user_model = get_user_model()
        users = {}
        for name in USERS:
            user, created = user_model._default_manager.get_or_create(username=name)
            if created or reset_passwords:
                user.set_password(demo_password(name))
                user.save()
            users[name] = user
        for slug, title, restricted, members in ROOMS:
            room, _ = Room.objects.get_or_create(
                slug=slug, defaults={"title": title, "restricted": restricted}
            )
            room.members.add(*(users[m] for m in members))
        for name in USERS:
            self.stdout.write(f"demo login: {name} / {demo_password(name)}")
