"""Running allauth's flows inside a server function, on either transport.

allauth is written for views: it reads the current request from a context variable its
middleware sets, flashes messages through Django's messages framework, counts rate limits per
client address, and answers with redirects. Over HTTP a function's request is that view's
request. Over the socket it is a `SocketRequest`, which allauth can't drive (no `get_host()`,
no HTTP method), so socket calls run allauth against a real `HttpRequest` built from the
socket's scope. It shares the socket's session object, so Django's `login()`/`logout()`
change that session (and `mizan_channels.identity` moves every socket of it); the user it
ends with is copied back so the call's invalidations reach the new identity.

Flash messages are for rendered pages; a function's caller gets the state back instead, so
allauth's messages are dropped for the duration of a call and the request's own restored.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any, NoReturn

from allauth.account.internal.stagekit import get_pending_stage
from allauth.account.utils import has_verified_email, user_display, user_email, user_username
from allauth.core import context, ratelimit
from allauth.core.exceptions import RateLimited as AllauthRateLimited
from django import forms
from django.core.exceptions import PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest

from ...auth import is_authenticated
from ...exceptions import Forbidden, InvalidParams, RateLimited
from ...forms.bind import form_errors
from . import AuthSession, AuthUser

#: Codes of allauth validation errors that are rate limits, not bad input: allauth reports
#: too many failed sign-ins for one account as a form error.
RATE_LIMIT_CODES = frozenset({"too_many_login_attempts", "rate_limited"})


class _Discarded:
    """A messages storage that keeps nothing (the shape `messages.add_message` writes to)."""

    def add(self, level: int, message: Any, extra_tags: str = "") -> None:
        return None


def from_socket(request: Any) -> HttpRequest:
    """An HttpRequest for a socket call: the socket's headers, cookies, client address and
    host, method POST (allauth counts rate limits on non-GET requests), the socket's session
    object and user."""
    scope = {**request.scope, "type": "http", "method": "POST"}
    http = ASGIRequest(scope, io.BytesIO())
    http.session = request.session
    http.user = request.user
    return http


@contextmanager
def allauth_request(request: Any) -> Iterator[HttpRequest]:
    """The request to hand allauth, with its context variable set and messages muted.
    allauth's RateLimited becomes `rate_limited`, PermissionDenied (e.g. no client address
    to rate-limit by) becomes `forbidden`."""
    http = request if isinstance(request, HttpRequest) else from_socket(request)
    if getattr(http, "allauth", None) is None:
        http.allauth = SimpleNamespace()  # type: ignore[attr-defined]
    missing = object()
    saved = http.__dict__.get("_messages", missing)
    http._messages = _Discarded()  # type: ignore[attr-defined]
    try:
        with context.request_context(http):
            yield http
    except AllauthRateLimited:
        raise RateLimited("Too many attempts; wait a little and try again.") from None
    except PermissionDenied as exc:
        raise Forbidden(str(exc) or None) from None
    finally:
        if saved is missing:
            del http.__dict__["_messages"]
        else:
            http._messages = saved  # type: ignore[attr-defined]
        if http is not request:
            request.user = http.user


def consume(request: HttpRequest, action: str, key: str | None = None) -> None:
    """Count one `action` against allauth's ACCOUNT_RATE_LIMITS, as allauth's own view for it
    does. Raises RateLimited when the limit is reached."""
    if not ratelimit.consume(request, action=action, key=key):
        raise RateLimited(
            f"Too many {action.replace('_', ' ')} attempts; wait a little and try again "
            "(limits are ACCOUNT_RATE_LIMITS)."
        )


def form_failed(form: forms.BaseForm, rename: dict[str, str] | None = None) -> NoReturn:
    """Raise the protocol error for an invalid allauth form: RateLimited when allauth refused
    for a rate limit, else InvalidParams whose message is the first error and whose details
    list every error as {loc, msg, type} (non-field errors at loc ["__all__"], field names
    renamed to the function's argument names by `rename`)."""
    errors = form_errors(form)
    limited = next((e for e in errors if e.type in RATE_LIMIT_CODES), None)
    if limited is not None:
        raise RateLimited(limited.msg)
    rename = rename or {}
    details = [
        {"loc": [rename.get(part, part) for part in e.loc], "msg": e.msg, "type": e.type}
        for e in errors
    ]
    raise InvalidParams(errors[0].msg if errors else None, details=details)


def user_of(user: Any) -> AuthUser:
    email = user_email(user) or None
    return AuthUser(
        id=str(user.pk),
        username=user_username(user) or None,
        email=email,
        display=str(user_display(user)),
        email_verified=has_verified_email(user, email) if email else False,
    )


def session_of(request: HttpRequest) -> AuthSession:
    """Who `request` is now: its user, or the stage a paused sign-in waits at."""
    user = request.user
    if is_authenticated(user):
        return AuthSession(authenticated=True, user=user_of(user))
    stage = get_pending_stage(request)
    return AuthSession(authenticated=False, pending=stage.key if stage is not None else None)


def keep_session(request: Any) -> None:
    """Give an HTTP visitor without a session one, so the sockets it opens next carry its key
    and can be told when it signs in. Django sets the cookie only for a modified session."""
    session = getattr(request, "session", None)
    if isinstance(request, HttpRequest) and session is not None and not session.session_key:
        session.save()
        session.modified = True
