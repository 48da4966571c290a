"""Invalidation: `affects` -> keys -> audience streams -> hub.

A key is `{"ctx": name}` or `{"fn": name}`. Its audience is the calling user's stream (all
their tabs), the session's stream for an anonymous caller, or, for keys declared
`shared=True`, the all-sockets stream. Publishing also drops the matching cache entries,
before the event leaves, so a refetch triggered by it never reads the stale value.

Server-side `invalidate()` inside a transaction is batched per audience stream until the
commit: one event per stream, each key once, nothing on rollback (protocol.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from . import broker, cache, protocol
from .exceptions import ConfigurationError
from .hub import Event, get_hub
from .identity import session_stream, user_stream
from .registry import FunctionSpec, registry
from .transaction import defer

logger = logging.getLogger("mizan_channels")

Key = dict[str, str]

AUD_USER = "user"
AUD_SESSION = "session"
AUD_ALL = "all"
AUD_CONN = "conn"
ALL_STREAM = "all"


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
    """The mutation's keys in declaration order, each once: the caller gets exactly one `inv`
    per key (protocol.md), even from `affects=["user", "user"]`."""
    return _dedupe(key_of(t) for t in spec.affects)


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
    """Publish a mutation's keys to their audiences, dropping the matching cache entries
    first. Returns (aud, epoch, seq, keys) per audience; aud "conn" (seq 0) means only the
    calling socket is to be told."""
    shared, personal = _split(keys)
    origin = str(getattr(request, "mizan_conn", ""))
    hub = get_hub()
    out: list[tuple[str, str, int, list[Key]]] = []
    if personal:
        scope = cache.scope_of(request)
        if scope is not None:  # an uncacheable caller has nothing cached to drop
            await cache.adrop(personal, scope)
        ident = identity_stream(request)
        if ident is None:
            out.append((AUD_CONN, "", 0, personal))
        else:
            epoch, seq = await hub.publish(ident[1], _event(personal, origin))
            out.append((ident[0], epoch, seq, personal))
    if shared:
        await cache.adrop(shared, None)
        epoch, seq = await hub.publish(ALL_STREAM, _event(shared, origin))
        out.append((AUD_ALL, epoch, seq, shared))
    return out


def _targets(
    targets: tuple[str | Callable[..., Any], ...], user: Any
) -> list[tuple[str, list[Key], str | None]]:
    """(stream, keys, cache scope) for server-side invalidation."""
    keys = _dedupe(key_of(t) for t in targets)
    if not keys:
        raise ValueError(
            "invalidate() needs at least one context name or function, e.g. "
            'invalidate("user") or invalidate(user_profile, user=request.user).'
        )
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


def _dedupe(keys: Iterable[Key]) -> list[Key]:
    seen: dict[tuple[tuple[str, str], ...], Key] = {}
    for key in keys:
        seen.setdefault(tuple(sorted(key.items())), key)
    return list(seen.values())


async def ainvalidate(*targets: str | Callable[..., Any], user: Any = None) -> None:
    """Tell clients to refetch `targets` (context names or registered functions): everyone's
    by default, or only `user`'s (a user object or primary key). Shared keys always reach
    everyone. Cached values are dropped before the event leaves. For async code, where it
    sends at once; inside `transaction.atomic()` use the sync `invalidate`.

    Raises ConfigurationError for a function that was never registered, ValueError when
    no target is given."""
    hub = get_hub()
    for stream, keys, scope in _targets(targets, user):
        await cache.adrop(keys, scope)
        await hub.publish(stream, _event(keys, ""))


class _Batch:
    """Keys bound for one stream, merged across `invalidate()` calls of one transaction so
    the commit sends one event per stream carrying each key once."""

    def __init__(self, stream: str, scope: str | None, keys: list[Key]) -> None:
        self.stream = stream
        self.scope = scope
        self.keys = keys

    def merge(self, keys: list[Key]) -> None:
        self.keys = _dedupe([*self.keys, *keys])

    def __call__(self) -> None:
        try:
            cache.drop(self.keys, self.scope)
            broker.publish_sync(self.stream, _event(self.keys, ""))
        except Exception:
            # After a commit there is no one to raise to; clients resync when the broker
            # returns (its reconnect announces continuity lost).
            logger.error("invalidation of %s on %s failed", self.keys, self.stream, exc_info=True)


def invalidate(*targets: str | Callable[..., Any], user: Any = None) -> None:
    """Sync twin of `ainvalidate` for views, signals, management commands and workers.
    Inside `transaction.atomic()` it waits for the commit and then sends one event per
    audience with each key once, however many calls the transaction made; on rollback
    nothing is sent. Don't call it on an event loop's thread: it may wait on Redis there;
    use `await ainvalidate(...)`.

    Raises ConfigurationError for a function that was never registered, ValueError when
    no target is given."""
    for stream, keys, scope in _targets(targets, user):
        batch = _Batch(stream, scope, keys)
        pending = defer(("inv", stream, scope), batch)
        if pending is not batch and isinstance(pending, _Batch):
            pending.merge(keys)
