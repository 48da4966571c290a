"""Running synchronous user code (function bodies, hooks, auth predicates) off the loop.

Through asgiref's `SyncToAsync`, so user code keeps every guarantee Django code relies on:
the caller's context (the active language and time zone, asgiref `Local`s) in the thread,
and `async_to_sync` inside it reaching the calling loop. Two changes from Channels'
`database_sync_to_async`:

- Calls run on a pool of our own, MIZAN_SYNC_WORKERS threads, which bounds the database
  connections a process holds (each thread that touches the ORM keeps its own).
- Django's connection clean-up around a call (as around a request) runs only in threads that
  have opened a connection: about 20 us of every sync call that never touches the ORM.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import SyncToAsync
from django.db import close_old_connections
from django.db.backends.signals import connection_created

from . import conf

_wrappers: dict[Callable[..., Any], Callable[..., Awaitable[Any]]] = {}
_executor: ThreadPoolExecutor | None = None
_thread = threading.local()


def _connected(**_: Any) -> None:
    # Sent in the thread that opened the connection: from then on that thread cleans up.
    _thread.has_db = True


connection_created.connect(_connected, dispatch_uid="mizan_channels.threads")


class DatabaseAwareSyncToAsync(SyncToAsync[Any, Any]):
    """`sync_to_async` with Django's connection clean-up around the call, in threads that
    have a connection to clean up."""

    def thread_handler(self, loop: Any, *args: Any, **kwargs: Any) -> Any:
        had_db = getattr(_thread, "has_db", False)
        if had_db:
            close_old_connections()
        try:
            return super().thread_handler(loop, *args, **kwargs)  # type: ignore[no-untyped-call]
        finally:
            if had_db or getattr(_thread, "has_db", False):
                close_old_connections()


def threaded(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """`fn` as a coroutine function that runs it in a worker thread. Bound methods share
    their function's wrapper (a cache keyed by bound methods would grow with every
    instance)."""
    if inspect.ismethod(fn):
        return functools.partial(_wrapper(fn.__func__), fn.__self__)
    return _wrapper(fn)


async def call_hook(fn: Callable[..., Any], *args: Any) -> Any:
    """Run user code that may be `async def` (awaited) or `def` (in a worker thread)."""
    if inspect.iscoroutinefunction(fn):
        return await fn(*args)
    return await threaded(fn)(*args)


def executor() -> ThreadPoolExecutor:
    """The process's pool for sync calls, created on first use."""
    global _executor
    if _executor is None:
        workers = conf.get().SYNC_WORKERS or None  # None: the stdlib's min(32, CPUs + 4)
        _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mizan-sync")
    return _executor


def _wrapper(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    wrapper = _wrappers.get(fn)
    if wrapper is None:
        wrapper = _wrappers[fn] = DatabaseAwareSyncToAsync(
            fn, thread_sensitive=False, executor=executor()
        )
    return wrapper


def shutdown() -> None:
    """Stop the pool (waiting for running calls) and forget the wrappers built on it; the
    next sync call starts a new pool. Test suites call this between tests, whose database
    access rules differ: a pooled thread keeps its connection from one test to the next."""
    global _executor
    pool, _executor = _executor, None
    _wrappers.clear()
    if pool is not None:
        pool.shutdown(wait=True)
