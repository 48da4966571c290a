"""Contexts: every function of a named context fetched together, through the cache.

`GET {prefix}ctx/{name}` and the SSR template tag both come here, so the first paint and
later refetches see the same values under the same auth rules. Auth is checked on every
fetch, before the cache is read: a cached value (even a shared one) is only ever served to a
caller its function admits.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asgiref.sync import async_to_sync

from . import auth, cache, protocol
from .exceptions import MizanError, ServerError, UnknownFunction
from .invoke import run, serialize
from .registry import FunctionSpec, registry

logger = logging.getLogger("mizan_channels")


def specs_of(name: str) -> list[FunctionSpec]:
    """The functions of context `name`. Raises UnknownFunction when nobody declared it."""
    specs = registry.contexts().get(name)
    if not specs:
        raise UnknownFunction(
            f"No context named {name[:100]!r}. Declare one with @client(context=...)."
        )
    return specs


async def compute(spec: FunctionSpec, request: Any) -> bytes:
    """Run a context function and encode its value; a raising body is logged and becomes
    ServerError, as on the call path."""
    try:
        return serialize(spec, await run(spec, request, {}))
    except MizanError:
        raise
    except Exception:
        logger.exception("context function %s raised", spec.name)
        raise ServerError() from None


async def fetch_raw(name: str, request: Any) -> dict[str, bytes]:
    """`{fn: encoded value}` for every function of context `name`. Raises UnknownFunction
    for a context nobody declared, the first auth error of any of its functions, and
    ServerError when one of them raises."""
    specs = specs_of(name)
    for spec in specs:
        await auth.check(spec.auth, request, spec.name)
    values = await cache.cached_many(specs, request, lambda spec: compute(spec, request))
    return {spec.name: value for spec, value in zip(specs, values, strict=True)}


async def fetch(name: str, request: Any) -> dict[str, protocol.Fragment]:
    """`{fn: value}` ready to embed in a reply (see `fetch_raw` for what it raises)."""
    return {fn: protocol.Fragment(value) for fn, value in (await fetch_raw(name, request)).items()}


def fetch_sync(name: str, request: Any) -> dict[str, Any]:
    """`fetch` for synchronous code (template rendering), as plain Python values.

    Raises RuntimeError when called on a running event loop's thread (render the template
    with `TemplateResponse`, or through `sync_to_async`), and what `fetch` raises."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(
            f"Context {name!r} was fetched synchronously on the event loop's thread (a "
            "template rendered inside an async view). Return a TemplateResponse, or render "
            "with `await sync_to_async(render)(...)`, so the fetch can run."
        )
    # Resolve a lazy `request.user` here, in sync code: the async fetch must not touch
    # the database from the event loop.
    user = getattr(request, "user", None)
    if user is not None:
        bool(getattr(user, "is_authenticated", False))
    data = async_to_sync(fetch_raw)(name, request)
    return {fn: protocol.loads(value) for fn, value in data.items()}
