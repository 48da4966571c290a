"""Running synchronous user code (function bodies, hooks, auth predicates) off the loop.

User code keeps every guarantee `sync_to_async` gives Django code: the caller's context in
the thread (the active language and time zone live in asgiref `Local`s), changes made there
visible to the caller afterwards, and `async_to_sync` inside it reaching the calling loop.
What differs from Channels' `database_sync_to_async`, each for a measured cost:

- Calls run on a pool of our own, MIZAN_SYNC_WORKERS threads, which bounds the database
  connections a process holds (each thread that touches the ORM keeps its own).
- Django's connection clean-up around a call (as around a request) runs only in threads that
  have opened a connection: about 20 us of every sync call that never touches the ORM.
- The hop is a queue put and, back, one loop wake-up for all the calls that finished
  together, not `SyncToAsync`'s executor future, chained asyncio future and `shield` (an
  extra loop turn) with one wake-up each: 30-40% less server CPU per call
  (docs/performance.md). It carries the context with asgiref's own `_restore_context` and
  sets the thread-locals its `AsyncToSync` reads; those internals are the same in asgiref
  3.8 to 3.13, and any other version runs through `SyncToAsync` on the same pool.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextvars
import functools
import inspect
import os
import queue
import threading
import weakref
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

import asgiref
from asgiref.sync import SyncToAsync
from django.db import close_old_connections
from django.db.backends.signals import connection_created

from . import conf

_thread = threading.local()
T = TypeVar("T")
#: Receives a call's outcome in the worker: (True, result) or (False, exception).
Report = Callable[[bool, Any], None]


def _connected(**_: Any) -> None:
    # Sent in the thread that opened the connection: from then on that thread cleans up.
    _thread.has_db = True


connection_created.connect(_connected, dispatch_uid="mizan_channels.threads")


def _run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`fn` as a worker runs it: with Django's connection clean-up around it in threads that
    have a connection, and StopIteration (which no Future accepts: under plain `SyncToAsync`
    the call would never end) turned into a RuntimeError."""
    had_db = getattr(_thread, "has_db", False)
    if had_db:
        close_old_connections()
    try:
        return fn(*args, **kwargs)
    except StopIteration as exc:
        raise RuntimeError(f"{fn!r} raised StopIteration") from exc
    finally:
        if had_db or getattr(_thread, "has_db", False):
            close_old_connections()


def _asgiref_internals() -> Callable[[contextvars.Context], None] | None:
    """asgiref's context carrier, when its internals are the ones this module was tested
    with."""
    try:
        major, minor = (int(part) for part in asgiref.__version__.split(".")[:2])
        from asgiref.sync import _restore_context
    except (ImportError, ValueError):
        return None
    return _restore_context if (3, 8) <= (major, minor) <= (3, 13) else None


_restore_context = _asgiref_internals()


def native_hop() -> bool:
    """Whether sync calls take mizan's own hop (False: `SyncToAsync`, on an asgiref
    release this module was not checked with)."""
    return _restore_context is not None


class Pool(Executor):
    """At most `size` worker threads, started as calls need them, fed by one queue.

    `put` is the hop's path, with none of `ThreadPoolExecutor`'s per-call future and locks:
    a worker runs `work` and hands its outcome to `report`. `submit` is the `Executor`
    interface, for `SyncToAsync` when asgiref's internals are not the known ones."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Report] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # workers waiting for a job, less the jobs already queued for them
        self._workers: list[threading.Thread] = []
        self._closed = False

    def put(self, work: Callable[[], Any], report: Report) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("this pool is shut down; threads.pool() gives the current one")
            if self._idle:
                self._idle -= 1
            elif len(self._workers) < self.size:
                worker = threading.Thread(
                    target=self._work, name=f"mizan-sync-{len(self._workers)}", daemon=True
                )
                worker.start()
                self._workers.append(worker)
            self._jobs.put((work, report))  # under the lock: none lands after the stop

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()

        def work() -> Any:
            return fn(*args, **kwargs) if future.set_running_or_notify_cancel() else None

        def report(ok: bool, value: Any) -> None:
            if not future.running():
                return
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

        self.put(work, report)
        return future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            work, report = job
            try:
                ok, value = True, work()
            except BaseException as exc:
                ok, value = False, exc
            # Idle before reporting: the caller's next call, made as soon as this one is
            # reported, finds this worker instead of starting another.
            with self._lock:
                self._idle += 1
            report(ok, value)
            del job, work, report, value  # drop the call's arguments and result while waiting

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Let running and queued calls finish, then stop every worker."""
        with self._lock:
            workers, self._workers = self._workers, []
            self._closed = True
            for _ in workers:
                self._jobs.put(None)
        if wait:
            for worker in workers:
                worker.join()


_pool: Pool | None = None
_pid = os.getpid()  # for AsyncToSync's fork check; a syscall per call otherwise


def pool() -> Pool:
    """The process's pool for sync calls, created on first use."""
    global _pool
    if _pool is None:
        _pool = Pool(conf.get().SYNC_WORKERS or min(32, (os.cpu_count() or 1) + 4))
    return _pool


class _Inbox:
    """Outcomes of calls on their way back to one loop: a worker wakes the loop only when
    no wake-up is pending, so calls that finish together cost one wake-up (a syscall on
    asyncio's loop, and a GIL handover) instead of one each."""

    def __init__(self) -> None:
        self.outcomes: collections.deque[tuple[asyncio.Future[Any], bool, Any]] = (
            collections.deque()
        )
        self.pending = False

    def post(self, future: asyncio.Future[Any], ok: bool, value: Any) -> None:
        """In a worker."""
        self.outcomes.append((future, ok, value))
        if not self.pending:
            self.pending = True
            try:
                future.get_loop().call_soon_threadsafe(self.deliver)
            except RuntimeError:  # a closed loop: nobody waits for these outcomes
                self.outcomes.clear()

    def deliver(self) -> None:
        """On the loop. `pending` drops first: an outcome posted while this runs either is
        delivered here or schedules the next delivery."""
        self.pending = False
        outcomes = self.outcomes
        while outcomes:
            future, ok, value = outcomes.popleft()
            if future.cancelled():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


_inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Inbox] = weakref.WeakKeyDictionary()


def _inbox(loop: asyncio.AbstractEventLoop) -> _Inbox:
    inbox = _inboxes.get(loop)
    if inbox is None:
        inbox = _inboxes[loop] = _Inbox()  # holding no loop: the key can go
    return inbox


async def _hop(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run `fn` on the pool in a copy of the caller's context, as `sync_to_async` does."""
    assert _restore_context is not None
    restore = _restore_context
    loop = asyncio.get_running_loop()
    inbox = _inbox(loop)
    context = contextvars.copy_context()
    future = loop.create_future()
    # Tasks that async_to_sync inside `fn` starts on this loop: cancelled with the call.
    tasks: list[asyncio.Task[Any]] = []

    def in_context() -> Any:
        if future.cancelled():  # the caller went away while the call waited for a thread
            return None
        local = SyncToAsync.threadlocal  # where AsyncToSync finds the loop to run on
        local.main_event_loop = loop
        local.main_event_loop_pid = _pid
        local.task_context = tasks
        restore(context)  # moves the caller's Locals to this thread
        try:
            return _run(fn, *args, **kwargs)
        finally:  # an idle worker keeps no loop alive
            local.main_event_loop = local.task_context = None

    pool().put(functools.partial(context.run, in_context), functools.partial(inbox.post, future))
    try:
        return await future
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        raise
    finally:
        restore(context)  # what `fn` set in its context, the caller sees, as under asgiref


_wrappers: dict[Callable[..., Any], Callable[..., Awaitable[Any]]] = {}


def _wrapper(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    wrapper = _wrappers.get(fn)
    if wrapper is None:
        if native_hop():
            wrapper = functools.partial(_hop, fn)
        else:
            wrapper = SyncToAsync(
                functools.partial(_run, fn),
                thread_sensitive=False,
                executor=pool(),  # type: ignore[arg-type]  # it only needs an Executor
            )
        _wrappers[fn] = wrapper
    return wrapper


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


def shutdown() -> None:
    """Stop the pool (waiting for running calls); the next sync call starts a new pool.
    Test suites call this between tests, whose database access rules differ: a pooled
    thread keeps its connection from one test to the next."""
    global _pool
    current, _pool = _pool, None
    _wrappers.clear()  # SyncToAsync wrappers hold the pool they were built on
    if current is not None:
        current.shutdown()


def _forget_pool() -> None:
    # A forked child has none of the parent's threads: it starts a pool of its own.
    global _pool, _pid
    _pool, _pid = None, os.getpid()
    _wrappers.clear()
    _inboxes.clear()  # one could be waiting for a wake-up the parent was to send


os.register_at_fork(after_in_child=_forget_pool)
atexit.register(shutdown)  # finish running calls at exit, as ThreadPoolExecutor does
