"""Running synchronous user code (function bodies, hooks, auth predicates) off the loop.

Each function gets one `database_sync_to_async` wrapper, built on first use rather than per
call (a measurable share of a sync call's cost), with `thread_sensitive=False` so slow sync
calls run side by side instead of queueing on one thread.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async

_wrappers: dict[Callable[..., Any], Callable[..., Awaitable[Any]]] = {}


def threaded(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """`fn` as a coroutine function that runs it in a worker thread, with Django's
    connection clean-up before and after. Bound methods share their function's wrapper
    (a cache keyed by bound methods would grow with every instance)."""
    if inspect.ismethod(fn):
        return functools.partial(_wrapper(fn.__func__), fn.__self__)
    return _wrapper(fn)


def _wrapper(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    wrapper = _wrappers.get(fn)
    if wrapper is None:
        wrapper = _wrappers[fn] = database_sync_to_async(fn, thread_sensitive=False)
    return wrapper
