"""Who a socket is, and telling open sockets when that changes.

Channels fixes a socket's user when it connects. Here sockets follow their browser session
instead: signing in or out publishes a control event on the session's stream, and every
socket of that session loads the new session and switches identity without reconnecting.
Saving a user (a password change, deactivation) makes that user's sockets re-verify their
credentials; those that no longer verify are closed with code 4401.

Control events travel on the audience streams like invalidations (`Event(kind="ctl")`), so
they reach sockets on every process, but take no position there (hub.CONTROL): clients never
see them, and must see no gap in their `inv` positions either. The new session key crosses
the broker in them: the broker is as trusted as the session store.
"""

from __future__ import annotations

import hashlib
import logging
from importlib import import_module
from typing import Any

from channels.auth import get_user
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_save

from . import broker, protocol
from .hub import CONTROL, Event
from .threads import threaded
from .transaction import defer

logger = logging.getLogger("mizan_channels")

CLOSE_CREDENTIALS = 4401


def user_stream(user_pk: Any) -> str:
    return f"u:{user_pk}"


def session_stream(session_key: str) -> str:
    # Session keys are credentials; only a digest may appear in broker channel names.
    return "s:" + hashlib.sha256(session_key.encode()).hexdigest()[:32]


def control(op: str, **fields: Any) -> Event:
    return Event(CONTROL, protocol.dumps({"op": op, **fields}))


async def load_session(session_key: str) -> tuple[Any, Any]:
    """(session, user) for a session key; an empty key gives an empty session, anonymous."""
    engine = import_module(settings.SESSION_ENGINE)
    session = engine.SessionStore(session_key or None)
    user = await get_user({"session": session})  # type: ignore[typeddict-item]
    return session, user


async def reload_user(user_pk: Any) -> Any:
    """The user as stored now, or None if gone."""
    return await threaded(get_user_model()._default_manager.filter(pk=user_pk).first)()


def _publish(stream: str, event: Event) -> None:
    defer(("ctl", stream, event.body), lambda: broker.publish_control_sync(stream, event))


def announce_session(old_key: str | None, new_key: str) -> None:
    """Tell the sockets of session `old_key` that their browser now holds `new_key` ("" for
    none), e.g. after a sign-in or sign-out done outside Django's login()/logout()."""
    if old_key:
        _publish(session_stream(old_key), control("session", key=new_key))


def announce_recheck(user_pk: Any) -> None:
    """Make every socket of the user re-verify its credentials."""
    _publish(user_stream(user_pk), control("recheck"))


def _on_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is None or getattr(request, "session", None) is None:
        return
    old_key = getattr(request, "COOKIES", {}).get(settings.SESSION_COOKIE_NAME)
    # The middleware saves the new session only when the response leaves; sockets will
    # load it as soon as they hear of it, so it must exist first.
    request.session.save()
    if old_key and old_key != request.session.session_key:
        announce_session(old_key, request.session.session_key or "")


def _on_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    if key:
        announce_session(key, "")


def _on_user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if not created:
        announce_recheck(instance.pk)


def connect_signals() -> None:
    user_logged_in.connect(_on_logged_in, dispatch_uid="mizan_channels.logged_in")
    user_logged_out.connect(_on_logged_out, dispatch_uid="mizan_channels.logged_out")
    post_save.connect(
        _on_user_saved, sender=settings.AUTH_USER_MODEL, dispatch_uid="mizan_channels.user_saved"
    )
