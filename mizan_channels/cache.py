"""Context cache: HMAC-keyed, JSON-only entries over Django's cache framework.

Why it is built this way:

- **Keys are HMACs** (SHA-256 under `MIZAN_CACHE_SECRET`) over the function name, its
  `rev`, the caller's scope (for a user also the username and session auth hash, so a reused
  primary key is someone else), the canonical arguments and two generation tokens. Nobody
  who can read the cache learns whose entry is whose (session keys are credentials), and
  nobody without the secret can compute another user's key. Bumping `rev` changes every
  key, so old entries are never read again; they simply expire.
- **Values are bytes**: the function's JSON, prefixed by an HMAC over key and value. A value
  changed in Redis, or moved from one user's key to another's, fails the check and counts as
  a miss. `BytesSerializer` replaces Django's Redis serializer, which pickles: a poisoned
  Redis must never mean code execution.
- **Invalidation cannot enumerate keys** (they are one-way, and other users' scopes are
  unknown), so every entry is filed under generation tokens: one per (function, scope) and one
  per function for everyone. Dropping writes fresh random tokens; entries under the old ones
  are orphaned. A missing token is created with `add` rather than assumed, so a token evicted
  by memory pressure orphans its entries instead of resurrecting ones filed before a drop.
- **Scopes**: `u:<pk>` for a user, `s:<session key>` for an anonymous session, `*` for
  functions declared `shared=True` (one entry for everyone). An anonymous caller without a
  session is never cached.
- **Never block the loop**: the in-process cache (locmem) is called directly; any other
  backend is called in a worker thread, batched so a context costs one thread hop and two
  round trips when warm.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from django.core.cache import BaseCache
from django.core.signals import setting_changed

from . import conf
from .broker import unreachable
from .cache_backends import REDIS_KEY_PREFIX as REDIS_KEY_PREFIX
from .cache_backends import BytesSerializer as BytesSerializer  # its documented home
from .cache_backends import build_cache
from .registry import FunctionSpec, registry

logger = logging.getLogger("mizan_channels")

T = TypeVar("T")

SHARED_SCOPE = "*"
#: Generation tokens outlive entries so a warm user rarely pays for re-creating them.
GEN_TTL_MIN = 24 * 3600
_MAC_LEN = 32


@dataclass(frozen=True, slots=True)
class Store:
    """The cache in use and the keys derived from the secret, per settings snapshot."""

    cache: BaseCache
    in_process: bool
    key_mac: bytes
    value_mac: bytes
    timeout: int

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Call a sync cache operation without blocking the event loop: in the loop's
        default executor (cheaper than asgiref's hop; cache calls need no context)."""
        if self.in_process:
            return fn(*args)
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def _log_failure(level: int, what: str, exc: BaseException) -> None:
    """An unreachable cache is an outage, logged in one line as the broker logs a Redis
    outage (a mutation per line would otherwise print a traceback each); anything else may
    be a bug and keeps its traceback."""
    if unreachable(exc):
        logger.log(level, "context cache unavailable (%s); %s", exc, what)
    else:
        logger.log(level, "context cache unavailable; %s", what, exc_info=exc)


_store: Store | None = None
_store_ready = False


def store() -> Store | None:
    """The cache for contexts, or None when caching is off (no MIZAN_CACHE_SECRET)."""
    global _store, _store_ready
    if not _store_ready:
        secret = conf.get().CACHE_SECRET
        if not secret:
            logger.warning(
                "MIZAN_CACHE_SECRET is not set: context results are not cached. Set it to a "
                "long random string (see `manage.py check`)."
            )
            _store = None
        else:
            cache, in_process = build_cache()
            raw = secret.encode()
            _store = Store(
                cache=cache,
                in_process=in_process,
                key_mac=hmac.new(raw, b"mizan-cache-key", hashlib.sha256).digest(),
                value_mac=hmac.new(raw, b"mizan-cache-value", hashlib.sha256).digest(),
                timeout=conf.get().CACHE_TIMEOUT,
            )
        _store_ready = True
    return _store


def _reset(*, setting: str, **_: Any) -> None:
    global _store, _store_ready
    # CHANNEL_LAYERS too: with no cache URL set, the cache follows the fan-out's Redis.
    if setting.startswith(conf.PREFIX) or setting in {"CACHES", "CHANNEL_LAYERS"}:
        _store, _store_ready = None, False


setting_changed.connect(_reset)


# Scopes --------------------------------------------------------------------------------


def user_scope(user_pk: Any) -> str:
    return f"u:{user_pk}"


def scope_of(request: Any) -> str | None:
    """The cache scope of the caller: its user, its session, or None (uncacheable)."""
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return user_scope(user.pk)
    key = getattr(getattr(request, "session", None), "session_key", None)
    return f"s:{key}" if key else None


def scope_for(spec: FunctionSpec, request: Any) -> str | None:
    return SHARED_SCOPE if spec.shared else scope_of(request)


def identity_of(request: Any) -> str:
    """What tells two users with the same primary key apart: username and the session auth
    hash (derived from the password hash). Primary keys do get reused (SQLite after a
    rollback, a deleted row's id), and a cached value must never outlive the person it was
    computed for; a password change retires a user's entries too."""
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return ""
    get_hash = getattr(user, "get_session_auth_hash", None)
    auth_hash = get_hash() if callable(get_hash) else ""
    return orjson.dumps([str(user.get_username()), auth_hash]).decode()


# Keys ----------------------------------------------------------------------------------


def _mac(key: bytes, parts: Sequence[Any]) -> str:
    # A JSON array is an unambiguous encoding of the parts (no separator games).
    return hmac.new(key, orjson.dumps(list(parts)), hashlib.sha256).hexdigest()


def gen_key(st: Store, fn: str, scope: str) -> str:
    return "g" + _mac(st.key_mac, ("gen", fn, scope))


def canonical_args(args: Mapping[str, Any] | None) -> str:
    """Arguments as sorted-key JSON, so equal arguments give equal keys."""
    return orjson.dumps(dict(args or {}), option=orjson.OPT_SORT_KEYS).decode()


def entry_key(st: Store, item: Item, gens: Sequence[str]) -> str:
    parts = ("entry", item.spec.name, item.spec.rev, item.scope, item.ident, item.args, *gens)
    return "e" + _mac(st.key_mac, parts)


def seal(st: Store, key: str, value: bytes) -> bytes:
    return hmac.new(st.value_mac, key.encode() + b"\0" + value, hashlib.sha256).digest() + value


def unseal(st: Store, key: str, stored: Any) -> bytes | None:
    """The value if its MAC holds for this key, else None (tampered, moved, or foreign)."""
    if not isinstance(stored, bytes) or len(stored) < _MAC_LEN:
        return None
    mac, value = stored[:_MAC_LEN], stored[_MAC_LEN:]
    good = hmac.new(st.value_mac, key.encode() + b"\0" + value, hashlib.sha256).digest()
    return value if hmac.compare_digest(mac, good) else None


# Lookup --------------------------------------------------------------------------------


@dataclass(slots=True)
class Item:
    spec: FunctionSpec
    scope: str
    ident: str
    args: str
    key: str = ""


def _gen_scopes(item: Item) -> tuple[tuple[str, str], ...]:
    if item.scope == SHARED_SCOPE:
        return ((item.spec.name, SHARED_SCOPE),)
    return ((item.spec.name, item.scope), (item.spec.name, SHARED_SCOPE))


def _read(st: Store, items: list[Item]) -> dict[str, bytes]:
    """Resolve each item's entry key (creating missing generation tokens) and read the
    entries. Sync: runs in a worker thread for network caches."""
    cache = st.cache
    wanted = {gen_key(st, fn, scope) for item in items for fn, scope in _gen_scopes(item)}
    gens: dict[str, Any] = cache.get_many(list(wanted))
    lost: list[str] = []
    for k in wanted:
        if not isinstance(gens.get(k), bytes):
            token = secrets.token_bytes(12)
            if cache.add(k, token, max(st.timeout, GEN_TTL_MIN)):
                gens[k] = token
            else:  # another process created it meanwhile: use theirs
                lost.append(k)
    if lost:
        gens.update(cache.get_many(lost))
    for item in items:
        tokens = [gens.get(gen_key(st, fn, scope)) for fn, scope in _gen_scopes(item)]
        if all(isinstance(t, bytes) for t in tokens):
            item.key = entry_key(st, item, [t.hex() for t in tokens])  # type: ignore[union-attr]
    keys = [item.key for item in items if item.key]
    raw: dict[str, Any] = cache.get_many(keys) if keys else {}
    out: dict[str, bytes] = {}
    for key, stored in raw.items():
        value = unseal(st, key, stored)
        if value is None:
            logger.warning("context cache entry %s failed its integrity check; ignored", key[:12])
        else:
            out[key] = value
    return out


async def cached_many(
    specs: Sequence[FunctionSpec],
    request: Any,
    compute: Callable[[FunctionSpec], Awaitable[bytes]],
    *,
    args: Mapping[str, Any] | None = None,
) -> list[bytes]:
    """Encoded values of argument-free-or-equal-argument functions for `request`, from the
    cache where valid, else from `compute(spec)` (then stored). Cache failures are logged
    and fall back to computing; errors of `compute` propagate."""
    st = store()
    items: list[Item | None] = []
    ident = identity_of(request) if st else ""
    key_args = canonical_args(args)
    for spec in specs:
        scope = scope_for(spec, request)
        if st is None or scope is None:
            items.append(None)
        else:
            own = "" if scope == SHARED_SCOPE else ident
            items.append(Item(spec, scope, own, key_args))
    live = [item for item in items if item is not None]
    hits: dict[str, bytes] = {}
    if st is not None and live:
        try:
            hits = await st.run(_read, st, live)
        except Exception as exc:
            _log_failure(logging.WARNING, "computing", exc)
            for entry in live:
                entry.key = ""
    out: list[bytes | None] = [
        hits.get(item.key) if item is not None and item.key else None for item in items
    ]
    misses = [i for i, value in enumerate(out) if value is None]
    # A context's functions are independent: compute its misses concurrently.
    values = await asyncio.gather(*(compute(specs[i]) for i in misses))
    fresh: dict[str, bytes] = {}
    for i, value in zip(misses, values, strict=True):
        out[i] = value
        item = items[i]
        if item is not None and item.key:
            fresh[item.key] = value
    if st is not None and fresh:
        sealed = {key: seal(st, key, value) for key, value in fresh.items()}
        try:
            await st.run(st.cache.set_many, sealed, st.timeout)
        except Exception as exc:
            _log_failure(logging.WARNING, "result not stored", exc)
    return [value for value in out if value is not None]


# Invalidation --------------------------------------------------------------------------


def _functions(keys: Iterable[Mapping[str, str]]) -> list[FunctionSpec]:
    contexts = registry.contexts()
    out: dict[str, FunctionSpec] = {}
    for key in keys:
        if "fn" in key:
            spec = registry.function(key["fn"])
            specs = [spec] if spec else []
        else:
            specs = contexts.get(key.get("ctx", ""), [])
        out.update((s.name, s) for s in specs)
    return list(out.values())


def _new_tokens(
    st: Store, keys: Iterable[Mapping[str, str]], scope: str | None
) -> dict[str, bytes]:
    tokens: dict[str, bytes] = {}
    for spec in _functions(keys):
        target = SHARED_SCOPE if scope is None or spec.shared else scope
        tokens[gen_key(st, spec.name, target)] = secrets.token_bytes(12)
    return tokens


def drop(keys: list[dict[str, str]], scope: str | None) -> None:
    """Forget cached values of `keys` for one scope (None: for everyone). Sync; from async
    code use `adrop`. A cache failure is logged (entries then live out their timeout)."""
    st = store()
    if st is None:
        return
    tokens = _new_tokens(st, keys, scope)
    if tokens:
        try:
            st.cache.set_many(tokens, max(st.timeout, GEN_TTL_MIN))
        except Exception as exc:
            _log_failure(logging.ERROR, f"{keys} not dropped", exc)


async def adrop(keys: list[dict[str, str]], scope: str | None) -> None:
    """`drop` for async code: the cache round trip runs off the event loop."""
    st = store()
    if st is not None:
        await st.run(drop, keys, scope)
