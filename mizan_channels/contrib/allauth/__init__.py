"""django-allauth's account flows as typed server functions: `enable()` registers them.

    # myapp/apps.py
    class MyAppConfig(AppConfig):
        name = "myapp"

        def ready(self) -> None:
            from mizan_channels.contrib.allauth import enable

            enable()

registers (names with the default prefix "auth."), callable over HTTP and the socket except
sign-in and sign-up, which are HTTP only: Django gives the session a new key on sign-in, and
only an HTTP response can hand a browser the new cookie.

    auth.session                 context "global": who this browser session is
    auth.sign_in                 login + password          -> AuthSession   (HTTP only)
    auth.sign_out                                          -> AuthSession
    auth.sign_up                 allauth's signup fields   -> AuthSession   (HTTP only)
    auth.request_password_reset  email                     -> None
    auth.email_status            (signed in)               -> list[AuthEmail]

Sign-in, sign-out and sign-up invalidate the session's context and the "user" context; the
sockets of the browser session switch user through `mizan_channels.identity`. allauth's email
signals invalidate the session context and `auth.email_status` for the user concerned.
This module imports allauth only inside `enable()`, so importing it (for the result types
below, in a project's own hints) never needs the app registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from ...exceptions import ConfigurationError

__all__ = ["AuthEmail", "AuthSession", "AuthUser", "enable"]


class AuthUser(BaseModel):
    """The signed-in user, as far as a page needs to know it."""

    #: The primary key as text, so integer, UUID and string keys all fit one type.
    id: str
    #: None when the user model has no username field (ACCOUNT_USER_MODEL_USERNAME_FIELD).
    username: str | None
    email: str | None
    #: allauth's `user_display()`: what the page shows as the user's name.
    display: str
    #: Whether the primary email address is verified (allauth's `has_verified_email`).
    email_verified: bool


class AuthSession(BaseModel):
    """Who this browser session is. Every auth function that can change it returns it, and
    the session context function serves it to the page."""

    authenticated: bool
    user: AuthUser | None = None
    #: A sign-in or sign-up that allauth has paused at a stage, by the stage's key
    #: ("verify_email" when mandatory verification waits for the emailed link, "mfa_authenticate",
    #: "login_by_code"...). None when nothing is pending.
    pending: str | None = None


class AuthEmail(BaseModel):
    """One of the user's email addresses and whether it is verified."""

    email: str
    verified: bool
    primary: bool


#: What the email signals invalidate, set by the last `enable()`.
_email_targets: tuple[Any, ...] = ()


def enable(
    *, prefix: str = "auth.", context: str = "global", invalidates: Sequence[str] = ("user",)
) -> None:
    """Register the auth functions under `prefix`, the session function in `context`; sign-in,
    sign-out and sign-up invalidate `context` and each context in `invalidates`. Call it
    from an AppConfig.ready(). Calling it again with the same arguments changes nothing.

    Raises ConfigurationError when allauth's account app isn't installed, or for a name
    the registry refuses (the message says which)."""
    from django.apps import apps

    if not apps.is_installed("allauth.account"):
        raise ConfigurationError(
            "mizan_channels.contrib.allauth.enable() needs django-allauth's account app: add "
            '"allauth" and "allauth.account" to INSTALLED_APPS and '
            '"allauth.account.middleware.AccountMiddleware" to MIDDLEWARE '
            '(pip install "mizan-channels[allauth]").'
        )
    from ...client import client
    from ...setup import register
    from . import functions as f

    affects = list(dict.fromkeys([context, *invalidates]))
    register(client(context=context, websocket=True)(f.session), f"{prefix}session")
    # Sign-in and sign-up rotate the session key: over the socket the browser would keep its
    # old cookie (HTTP pages and the next load stay anonymous), so they are HTTP only.
    for fn, websocket in ((f.sign_in, False), (f.sign_out, True), (f.sign_up, False)):
        register(client(websocket=websocket, affects=affects)(fn), f"{prefix}{fn.__name__}")
    register(client(websocket=True)(f.request_password_reset), f"{prefix}request_password_reset")
    register(client(websocket=True, auth=True)(f.email_status), f"{prefix}email_status")

    global _email_targets
    _email_targets = (context, f.email_status)
    _connect_signals()


def _email_changed(sender: Any, request: Any = None, **kwargs: Any) -> None:
    """An address was added, removed, changed or verified: the user's pages refetch."""
    from ...invalidation import invalidate

    user = kwargs.get("user")
    if user is None:
        address = kwargs.get("email_address") or kwargs.get("to_email_address")
        user = getattr(address, "user", None)
    if user is not None and _email_targets:
        invalidate(*_email_targets, user=user)


def _connect_signals() -> None:
    from allauth.account import signals

    for signal in (
        signals.email_confirmed,
        signals.email_added,
        signals.email_removed,
        signals.email_changed,
    ):
        signal.connect(_email_changed, dispatch_uid="mizan_channels.contrib.allauth.email")
