"""Invalidation: `affects` -> keys -> audience streams -> hub.

A key is `{"ctx": name}` or `{"fn": name}`. Its audience is the calling user's stream (all
their tabs), the session's stream for an anonymous caller, or, for keys declared
`shared=True`, the all-sockets stream. Publishing also drops the matching cache entries,
before the event leaves, so a refetch triggered by it never reads the stale value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from . import broker, cache, protocol
from .exceptions import ConfigurationError
from .hub import Event, get_hub
from .registry import FunctionSpec, registry
from .transaction import defer

Key = dict[str, str]

AUD_USER = "user"
AUD_SESSION = "session"
AUD_ALL = "all"
AUD_CONN = "conn"
ALL_STREAM = "all"


def user_stream(user_pk: Any) -> str:
    return f"u:{user_pk}"


def session_stream(session_key: str) -> str:
    # Session keys are credentials; only a digest may appear in broker channel names.
    return "s:" + hashlib.sha256(session_key.encode()).hexdigest()[:32]


def key_of(target: str | Callable[..., Any]) -> Key:
    """`"user"` -> {"ctx": "user"}; a registered function -> {"fn": its name}."""
    if isinstance(target, str):
        return {"ctx": target}
    name = registry.name_of(target)
    if name is None:
        raise ConfigurationError(
            f"{getattr(target, '__qualname__', target)!r} is not a registered function; "
            "register() it before invalidating it."
        )
    return {"fn": name}


def keys_for(spec: FunctionSpec) -> list[Key]:
    return [key_of(t) for t in spec.affects]


def is_shared(key: Key) -> bool:
    """Shared keys are the same data for everyone, so every socket hears of them."""
    if "fn" in key:
        spec = registry.function(key["fn"])
        return bool(spec and spec.shared)
    return any(s.shared for s in registry.contexts().get(key["ctx"], ()))


def identity_stream(request: Any) -> tuple[str, str] | None:
    """(aud, stream) of the caller: its user, else its session, else None (socket only)."""
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return AUD_USER, user_stream(user.pk)
    session = getattr(request, "session", None)
    session_key = getattr(session, "session_key", None)
    if session_key:
        return AUD_SESSION, session_stream(session_key)
    return None


def _event(keys: list[Key], origin: str) -> Event:
    return Event("inv", protocol.dumps(keys), origin)


def _split(keys: Iterable[Key]) -> tuple[list[Key], list[Key]]:
    shared: list[Key] = []
    personal: list[Key] = []
    for key in keys:
        (shared if is_shared(key) else personal).append(key)
    return shared, personal


async def publish_for_request(
    keys: list[Key], request: Any
) -> list[tuple[str, str, int, list[Key]]]:
    """Publish a mutation's keys to their audiences. Returns (aud, epoch, seq, keys) per
    audience; aud "conn" (seq 0) means only the calling socket is to be told."""
    shared, personal = _split(keys)
    origin = str(getattr(request, "mizan_conn", ""))
    hub = get_hub()
    out: list[tuple[str, str, int, list[Key]]] = []
    if personal:
        ident = identity_stream(request)
        cache.drop(personal, cache.scope_of(request))
        if ident is None:
            out.append((AUD_CONN, "", 0, personal))
        else:
            epoch, seq = await hub.publish(ident[1], _event(personal, origin))
            out.append((ident[0], epoch, seq, personal))
    if shared:
        cache.drop(shared, None)
        epoch, seq = await hub.publish(ALL_STREAM, _event(shared, origin))
        out.append((AUD_ALL, epoch, seq, shared))
    return out


def _targets(
    targets: tuple[str | Callable[..., Any], ...], user: Any
) -> list[tuple[str, list[Key], str | None]]:
    """(stream, keys, cache scope) for server-side invalidation."""
    keys = [key_of(t) for t in targets]
    if not keys:
        raise ValueError("invalidate() needs at least one context name or function.")
    if user is None:
        return [(ALL_STREAM, keys, None)]
    shared, personal = _split(keys)
    pk = getattr(user, "pk", user)
    out: list[tuple[str, list[Key], str | None]] = []
    if personal:
        out.append((user_stream(pk), personal, cache.user_scope(pk)))
    if shared:
        out.append((ALL_STREAM, shared, None))
    return out


async def ainvalidate(*targets: str | Callable[..., Any], user: Any = None) -> None:
    """Tell clients to refetch `targets` (context names or registered functions): everyone's
    by default, or only `user`'s (a user object or primary key). Shared keys always reach
    everyone. For async code; see `invalidate` for sync code."""
    hub = get_hub()
    for stream, keys, scope in _targets(targets, user):
        cache.drop(keys, scope)
        await hub.publish(stream, _event(keys, ""))


def invalidate(*targets: str | Callable[..., Any], user: Any = None) -> None:
    """Sync twin of `ainvalidate` for views, signals, management commands and workers.
    Inside `transaction.atomic()` it waits for the commit (once per key), and on rollback
    nothing is sent."""
    for stream, keys, scope in _targets(targets, user):

        def send(stream: str = stream, keys: list[Key] = keys, scope: str | None = scope) -> None:
            cache.drop(keys, scope)
            broker.publish_sync(stream, _event(keys, ""))

        defer(("inv", stream, protocol.dumps(keys)), send)
