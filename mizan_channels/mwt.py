"""MWT: short-lived signed tokens that authenticate a socket when cookies can't.

Signed with Django's `signing` under `MIZAN_MWT_SECRET` (never SECRET_KEY, so a leaked
session signature is not a token) and bound to the user's session auth hash, so changing
the password retires every token issued before.
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core import signing

from . import conf
from .exceptions import MizanError, ServerError, Unauthorized
from .identity import session_stream
from .threads import threaded

SALT = "mizan_channels.mwt"


def _signer(missing: type[MizanError] = Unauthorized) -> signing.TimestampSigner:
    """The token signer. Without a secret, raises `missing`: a token can't be verified
    (`unauthorized`), or can't be issued, which is the server's fault, not the user's."""
    secret = conf.get().MWT_SECRET
    if not secret:
        raise missing("Socket tokens are not configured (MIZAN_MWT_SECRET).")
    return signing.TimestampSigner(key=secret, salt=SALT)


def _auth_hash(user: Any) -> str:
    getter = getattr(user, "get_session_auth_hash", None)
    return str(getter()) if getter else ""


def issue(user: Any, session_key: str | None = None) -> tuple[str, int]:
    """A token for `user` and its expiry (unix seconds). Given the session it was issued
    in, the token carries that session's stream (a digest, never the key), so sockets it
    authenticates hear that session's sign-out. Raises ServerError when MIZAN_MWT_SECRET is
    not set."""
    payload = {"u": str(user.pk), "h": _auth_hash(user)[:32]}
    if session_key:
        payload["s"] = session_stream(session_key)
    token = _signer(ServerError).sign_object(payload, compress=False)
    return token, int(time.time()) + conf.get().MWT_TTL


def still_valid(user: Any, bound_hash: str) -> bool:
    """Does a token bound to `bound_hash` still speak for `user` (same password, active)?"""
    return bool(getattr(user, "is_active", True)) and _auth_hash(user)[:32] == bound_hash


def verify(token: str) -> tuple[Any, str, str]:
    """The active user the token names, the auth hash it is bound to and the session
    stream it was issued in ("" for none). Raises Unauthorized (one generic message) for a
    tampered, expired or foreign token, or a user that changed password or was disabled."""
    try:
        payload = _signer().unsign_object(token, max_age=conf.get().MWT_TTL)
        pk = payload["u"]
        user = get_user_model()._default_manager.get(pk=pk)
    except Exception:
        raise Unauthorized("Invalid or expired token.") from None
    bound_hash = str(payload.get("h", ""))
    if not still_valid(user, bound_hash):
        raise Unauthorized("Invalid or expired token.")
    return user, bound_hash, str(payload.get("s", ""))


async def aissue(user: Any, session_key: str | None = None) -> tuple[str, int]:
    """`issue` off the loop (a custom user model's auth hash may query)."""
    return await threaded(issue)(user, session_key)  # type: ignore[no-any-return]


async def averify(token: str) -> tuple[Any, str, str]:
    """`verify` off the loop."""
    return await threaded(verify)(token)  # type: ignore[no-any-return]
