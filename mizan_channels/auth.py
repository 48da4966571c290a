"""Auth rules of `@client(auth=...)`, decided the same way for every transport.

An inactive user counts as anonymous everywhere: a session or token can outlive the
deactivation, and a rule that says "logged in" must not admit them.
"""

from __future__ import annotations

import logging
from typing import Any

from .exceptions import Forbidden, Unauthorized
from .registry import AuthRule
from .threads import call_hook

logger = logging.getLogger("mizan_channels")


def is_authenticated(user: Any) -> bool:
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and getattr(user, "is_active", True)
    )


async def check(rule: AuthRule, request: Any, what: str) -> None:
    """Raise Unauthorized (no usable user) or Forbidden (user refused) unless `rule` admits
    `request.user`. A predicate that raises is logged and counts as a refusal."""
    if rule is None:
        return
    user: Any = getattr(request, "user", None)
    logged_in = is_authenticated(user)
    if isinstance(rule, str):
        if not logged_in:
            raise Unauthorized()
        if rule == "staff" and not user.is_staff:
            raise Forbidden()
        if rule == "superuser" and not user.is_superuser:
            raise Forbidden()
        return
    if getattr(user, "is_authenticated", False) and not logged_in:
        raise Unauthorized()
    try:
        allowed = await call_hook(rule, request)
    except Exception:
        logger.warning("auth predicate of %s raised; refusing", what, exc_info=True)
        raise Forbidden() from None
    if not allowed:
        raise Forbidden() if logged_in else Unauthorized()
