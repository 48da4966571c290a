"""Sync user code runs on mizan's bounded pool, with the guarantees of asgiref's
`sync_to_async`, and database connections opened there are cleaned up around each call the
way Django cleans up around a request.

Every test runs twice: through mizan's own hop, and through the `SyncToAsync` fallback used
when the installed asgiref is not a version the hop was verified with."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import zoneinfo
from contextvars import ContextVar
from typing import Any

import asgiref
import pytest
from asgiref.sync import async_to_sync
from django.db import connections
from django.utils import timezone, translation

from mizan_channels import threads
from mizan_channels.threads import threaded
from tests.conftest import TIMEOUT


@pytest.fixture(autouse=True, params=["hop", "sync_to_async"])
def runner(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    threads.shutdown()
    if request.param == "sync_to_async":
        monkeypatch.setattr(threads, "_restore_context", None)
    return str(request.param)


async def test_sync_calls_run_on_a_bounded_pool_of_named_threads(settings: Any) -> None:
    settings.MIZAN_SYNC_WORKERS = 2
    threads.shutdown()  # the pool is sized when it is created
    seen: set[str] = set()
    gate = threading.Barrier(2, timeout=TIMEOUT)

    def body(i: int) -> int:
        seen.add(threading.current_thread().name)
        if i < 2:
            gate.wait()  # two calls overlap: the pool runs them side by side
        return i

    results = await asyncio.wait_for(
        asyncio.gather(*(threaded(body)(i) for i in range(12))), TIMEOUT
    )
    assert results == list(range(12))
    assert all(name.startswith("mizan-sync") for name in seen)
    assert len(seen) == 2


async def test_the_pool_starts_a_thread_only_when_none_is_idle() -> None:
    seen: set[str] = set()

    def body() -> None:
        seen.add(threading.current_thread().name)

    for _ in range(20):  # one at a time: the first thread serves every call
        await asyncio.wait_for(threaded(body)(), TIMEOUT)
    assert len(seen) == 1


async def test_calls_finishing_together_are_all_delivered(settings: Any) -> None:
    """Outcomes share loop wake-ups: none may be left behind when workers race the loop."""
    settings.MIZAN_SYNC_WORKERS = 4
    threads.shutdown()
    results = await asyncio.wait_for(
        asyncio.gather(*(threaded(abs)(-i) for i in range(3000))), TIMEOUT
    )
    assert results == list(range(3000))


async def test_a_call_cancelled_while_queued_never_runs(settings: Any) -> None:
    """A socket that closed while its call waited for a busy pool: the body must not run
    (it could write to the database for a caller that is gone)."""
    settings.MIZAN_SYNC_WORKERS = 1
    threads.shutdown()
    gate, ran = threading.Event(), []
    busy = asyncio.ensure_future(threaded(gate.wait)(TIMEOUT))
    entered = asyncio.Event()

    async def queued_call() -> None:
        entered.set()  # the same step then puts the call in the pool's queue, behind `busy`
        await threaded(ran.append)("queued")

    queued = asyncio.ensure_future(queued_call())
    await asyncio.wait_for(entered.wait(), TIMEOUT)
    queued.cancel()
    # The cancellation done before the worker frees up: under SyncToAsync it reaches the
    # executor's future only when the cancelled task next runs, and a worker freed before
    # that would start the call (1 run in about 30 beside a busy machine).
    await asyncio.wait({queued}, timeout=TIMEOUT)
    gate.set()
    assert await asyncio.wait_for(busy, TIMEOUT)
    await asyncio.wait_for(threaded(ran.append)("after"), TIMEOUT)  # one worker: in order
    assert ran == ["after"]
    assert queued.cancelled()


def test_a_pool_that_was_shut_down_refuses_calls() -> None:
    pool = threads.Pool(1)
    pool.put(lambda: None, lambda ok, value: None)
    pool.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        pool.put(lambda: None, lambda ok, value: None)


async def test_an_outcome_posted_while_the_loop_delivers_is_not_left_behind() -> None:
    """A worker may post while the loop is draining the inbox: the outcome is delivered
    in that drain or wakes the loop again, never waits for an unrelated later call."""
    loop = asyncio.get_running_loop()
    inbox = threads._Inbox()
    second = loop.create_future()

    class PostsSecond(asyncio.Future[str]):
        def set_result(self, result: str) -> None:
            super().set_result(result)
            inbox.post(second, True, "second")  # mid-delivery, as a worker could

    first = PostsSecond(loop=loop)
    inbox.post(first, True, "first")
    assert await asyncio.wait_for(first, TIMEOUT) == "first"
    assert await asyncio.wait_for(second, TIMEOUT) == "second"


def test_shutdown_lets_queued_calls_finish() -> None:
    pool = threads.Pool(1)
    done: list[int] = []
    for i in range(3):
        pool.put(functools.partial(done.append, i), lambda ok, value: None)
    pool.shutdown()
    assert done == [0, 1, 2]


async def test_async_to_sync_in_a_sync_call_runs_on_the_calling_loop() -> None:
    """User code in a `def` function reaches the loop's hub and channel layer through
    `async_to_sync`, and sees the caller's context variables, as under `sync_to_async`."""
    caller = asyncio.get_running_loop()
    request_id: ContextVar[str] = ContextVar("request_id")
    request_id.set("r-1")

    async def where() -> tuple[asyncio.AbstractEventLoop, str]:
        return asyncio.get_running_loop(), request_id.get()

    def body() -> tuple[asyncio.AbstractEventLoop, str, str]:
        loop, seen = async_to_sync(where)()
        return loop, seen, request_id.get()

    loop, in_coroutine, in_thread = await asyncio.wait_for(threaded(body)(), TIMEOUT)
    assert loop is caller
    assert in_coroutine == in_thread == "r-1"


async def test_a_sync_call_sees_the_callers_language_and_time_zone() -> None:
    """Django keeps them in asgiref `Local`s: an HTTP request's LocaleMiddleware activates
    the language, and a `def` function's gettext must use it."""
    translation.activate("fr")
    timezone.activate(zoneinfo.ZoneInfo("Asia/Tokyo"))
    try:

        def body() -> tuple[str, str]:
            return translation.get_language(), str(timezone.get_current_timezone())

        assert await asyncio.wait_for(threaded(body)(), TIMEOUT) == ("fr", "Asia/Tokyo")
    finally:
        translation.deactivate()
        timezone.deactivate()


async def test_context_a_sync_call_sets_is_the_callers_afterwards() -> None:
    """As under `sync_to_async`: a `def` hook that activates a language, for instance,
    leaves it active for the code that awaited it."""
    mark: ContextVar[str] = ContextVar("mark", default="before")

    def body() -> None:
        mark.set("set in the thread")
        translation.activate("de")

    try:
        async with asyncio.timeout(TIMEOUT):  # in this task: wait_for would run another
            await threaded(body)()
        assert mark.get() == "set in the thread"
        assert translation.get_language() == "de"
    finally:
        translation.deactivate()


async def test_stop_iteration_in_a_sync_call_is_an_error_not_a_hang() -> None:
    def body() -> None:
        raise StopIteration

    with pytest.raises(RuntimeError):
        await asyncio.wait_for(threaded(body)(), TIMEOUT)


async def test_cancelling_a_sync_call_cancels_what_it_awaits_through_async_to_sync() -> None:
    """A socket that closes mid-call cancels the call: the coroutine the thread is blocked
    on is cancelled too, so the thread is freed for the next call. (Whether the cancelled
    caller then sees CancelledError or the body's return differs: `SyncToAsync` waits for
    a body that caught the cancellation.)"""
    started, freed = threading.Event(), threading.Event()
    forever = asyncio.Event()

    async def wait_forever() -> None:
        started.set()
        await forever.wait()

    def body() -> None:
        try:
            async_to_sync(wait_forever)()
        except asyncio.CancelledError:
            freed.set()

    call = asyncio.ensure_future(threaded(body)())
    try:
        assert await asyncio.to_thread(started.wait, TIMEOUT)
        call.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(call, TIMEOUT)
        assert await asyncio.to_thread(freed.wait, TIMEOUT)
    finally:
        forever.set()  # a failing run must not leave the thread blocked for the pool's shutdown
    assert await asyncio.wait_for(threaded(lambda: "next")(), TIMEOUT) == "next"


@pytest.mark.parametrize(
    ("version", "fast"), [("3.8.1", True), ("3.13.0", True), ("3.7.2", False), ("3.14.0", False)]
)
def test_the_hop_uses_asgiref_internals_only_in_verified_versions(
    monkeypatch: pytest.MonkeyPatch, version: str, fast: bool
) -> None:
    monkeypatch.setattr(asgiref, "__version__", version)
    assert (threads._asgiref_internals() is not None) is fast


async def test_an_exception_in_a_sync_call_reaches_the_caller() -> None:
    def body() -> None:
        raise LookupError("missing")

    with pytest.raises(LookupError, match="missing"):
        await asyncio.wait_for(threaded(body)(), TIMEOUT)


@pytest.mark.django_db(databases=["default", "aux"], transaction=True)
async def test_a_connection_opened_by_a_sync_call_is_closed_after_it() -> None:
    """CONN_MAX_AGE is 0: like a request, the call's connection must not outlive it."""
    opened: list[Any] = []

    def query() -> int:
        conn = connections["aux"]
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
            (value,) = cursor.fetchone()
        opened.append(conn)
        return int(value)

    assert await asyncio.wait_for(threaded(query)(), TIMEOUT) == 1
    assert opened and opened[0].connection is None

    def untouched() -> str:
        return "no database"

    # A later call on the same pool, that never touches the database, still works.
    assert await asyncio.wait_for(threaded(untouched)(), TIMEOUT) == "no database"
