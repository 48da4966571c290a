"""Context cache: HMAC-keyed entries over Django's cache framework.

Placeholder pass-through until the cache lands (issue: contexts and invalidation).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .registry import FunctionSpec


async def cached(
    spec: FunctionSpec, request: Any, compute: Callable[[], Awaitable[bytes]]
) -> bytes:
    return await compute()


def drop(keys: list[dict[str, str]], scope: str | None) -> None:
    """Forget cached values of `keys` for one user scope (None: for everyone)."""


def user_scope(user_pk: Any) -> str:
    return f"u:{user_pk}"


def scope_of(request: Any) -> str | None:
    """The cache scope of the caller: its user, its session, or None (uncacheable)."""
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return user_scope(user.pk)
    key = getattr(getattr(request, "session", None), "session_key", None)
    return f"s:{key}" if key else None
