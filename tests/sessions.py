"""Browser sessions for identity tests: a session key, the tabs (sockets) and the HTTP
client that share it, and who a socket says it is."""

from __future__ import annotations

import json
from importlib import import_module
from typing import Any

from django.conf import settings
from django.test import Client

from mizan_channels.exceptions import MizanError
from mizan_channels.testing import MizanCommunicator
from tests.asgi import application
from tests.conftest import TIMEOUT


def anonymous_session() -> str:
    """A saved session with no user: what a visitor's browser holds."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store["visited"] = True
    store.save()
    return str(store.session_key)


def tab(session_key: str | None = None, user: Any = None) -> MizanCommunicator:
    """A socket of the browser holding `session_key`."""
    headers = []
    if session_key:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_key}".encode()))
    t = MizanCommunicator(application, timeout=TIMEOUT, headers=headers, user=user)
    t.scope["client"] = ("127.0.0.1", 50123)  # what daphne gives; allauth limits per address
    return t


def browser(session_key: str | None = None) -> Client:
    """The HTTP side of the same browser."""
    c = Client()
    if session_key:
        c.cookies[settings.SESSION_COOKIE_NAME] = session_key
    return c


def call_http(c: Client, fn: str, **args: Any) -> tuple[int, Any]:
    r = c.post(f"/api/mizan/call/{fn}", data=json.dumps(args), content_type="application/json")
    return r.status_code, r.json()


async def whoami(t: MizanCommunicator) -> str | None:
    try:
        return str(await t.call("whoami"))
    except MizanError as exc:
        assert exc.code == "unauthorized"
        return None
