"""Running synchronous user code (function bodies, hooks, auth predicates) off the loop.

Calls run on a small pool of our own (MIZAN_SYNC_WORKERS threads): one thread would let a
slow call hold every other sync call of the process, and an unbounded share of a default
pool would let each thread hold its own database connection.

This is `sync_to_async` reduced to what a server function needs: the caller's context
variables in the thread, `async_to_sync` inside it reaching the calling loop, and Django's
connection clean-up around the call, as around a request, but only in threads that have
opened a connection. asgiref's general machinery (context write-back, thread-sensitive
bookkeeping) and Channels' unconditional clean-up cost about 47 us of server CPU per sync
call (bench: 264 -> 218 us per echo on uvicorn+uvloop, 422 -> 374 on daphne).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import os
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


def _run(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
    """The worker-thread half of a call. Marks the thread the way asgiref's `sync_to_async`
    does, so `async_to_sync` inside `fn` runs its coroutine on the calling loop (where the
    process's hub and channel layer live), and cleans up database connections around it."""
    local = SyncToAsync.threadlocal
    local.main_event_loop = loop
    local.main_event_loop_pid = os.getpid()
    local.task_context = None
    had_db = getattr(_thread, "has_db", False)
    if had_db:
        close_old_connections()
    try:
        return fn(*args, **kwargs)
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


def executor() -> ThreadPoolExecutor | None:
    """The process's pool for sync calls, created on first use; None for asgiref's own."""
    global _executor
    workers = conf.get().SYNC_WORKERS
    if _executor is None and workers > 0:
        _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mizan-sync")
    return _executor


def _wrapper(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    wrapper = _wrappers.get(fn)
    if wrapper is None:

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            loop = asyncio.get_running_loop()
            context = contextvars.copy_context()  # the caller's context vars, in the thread
            return await loop.run_in_executor(executor(), context.run, _run, loop, fn, args, kwargs)

        functools.update_wrapper(wrapper, fn)
        _wrappers[fn] = wrapper
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
