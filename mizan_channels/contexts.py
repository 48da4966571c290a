"""Contexts: every function of a named context fetched together, through the cache.

`GET {prefix}ctx/{name}` and the SSR template tag both come here, so the first paint and
later refetches see the same values under the same auth rules.
"""

from __future__ import annotations

from typing import Any

from . import auth, cache, protocol
from .exceptions import UnknownFunction
from .invoke import run, serialize
from .registry import FunctionSpec, registry


async def fetch_one(spec: FunctionSpec, request: Any) -> bytes:
    """One context function's encoded value, cached per user scope and `rev`."""
    await auth.check(spec.auth, request, spec.name)

    async def compute() -> bytes:
        return serialize(spec, await run(spec, request, {}))

    return await cache.cached(spec, request, compute)


async def fetch(name: str, request: Any) -> dict[str, protocol.Fragment]:
    """`{fn: value}` for every function of context `name`. Raises UnknownFunction for a
    context nobody declared, and the first auth error of any of its functions."""
    specs = registry.contexts().get(name)
    if not specs:
        raise UnknownFunction(f"No context named {name[:100]!r}.")
    return {spec.name: protocol.Fragment(await fetch_one(spec, request)) for spec in specs}
