"""MWT: short-lived signed tokens that authenticate a socket when cookies can't.

Signed with Django's `signing` under `MIZAN_MWT_SECRET` (never SECRET_KEY, so a leaked
session signature is not a token) and bound to the user's session auth hash, so changing
the password retires every token issued before.
"""

from __future__ import annotations

import time
from typing import Any

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.core import signing

from . import conf
from .exceptions import Unauthorized
from .identity import session_stream

SALT = "mizan_channels.mwt"


def _signer() -> signing.TimestampSigner:
    secret = conf.get().MWT_SECRET
    if not secret:
        raise Unauthorized("Socket tokens are not configured (MIZAN_MWT_SECRET).")
    return signing.TimestampSigner(key=secret, salt=SALT)


def _auth_hash(user: Any) -> str:
    getter = getattr(user, "get_session_auth_hash", None)
    return str(getter()) if getter else ""


def issue(user: Any, session_key: str | None = None) -> tuple[str, int]:
    """A token for `user` and its expiry (unix seconds). Given the session it was issued
    in, the token carries that session's stream (a digest, never the key), so sockets it
    authenticates hear that session's sign-out."""
    payload = {"u": str(user.pk), "h": _auth_hash(user)[:32]}
    if session_key:
        payload["s"] = session_stream(session_key)
    token = _signer().sign_object(payload, compress=False)
    return token, int(time.time()) + conf.get().MWT_TTL


def token_hash(token: str) -> str:
    """The auth hash a (verified) token was bound to."""
    payload = _signer().unsign_object(token)
    return str(payload.get("h", ""))


def token_session(token: str) -> str:
    """The session stream a (verified) token was issued in, or ""."""
    payload = _signer().unsign_object(token)
    return str(payload.get("s", ""))


def still_valid(user: Any, bound_hash: str) -> bool:
    """Does a token bound to `bound_hash` still speak for `user` (same password, active)?"""
    return bool(getattr(user, "is_active", True)) and _auth_hash(user)[:32] == bound_hash


def verify(token: str) -> Any:
    """The active user the token names. Raises Unauthorized (one generic message) for a
    tampered, expired or foreign token, or a user that changed password or was disabled."""
    try:
        payload = _signer().unsign_object(token, max_age=conf.get().MWT_TTL)
        pk = payload["u"]
        user = get_user_model()._default_manager.get(pk=pk)
    except Exception:
        raise Unauthorized("Invalid or expired token.") from None
    if not still_valid(user, str(payload.get("h"))):
        raise Unauthorized("Invalid or expired token.")
    return user


aissue = database_sync_to_async(issue)
averify = database_sync_to_async(verify)
