"""Sync user code runs on mizan's bounded pool, and database connections opened there are
cleaned up around each call the way Django cleans up around a request."""

from __future__ import annotations

import asyncio
import threading
import zoneinfo
from contextvars import ContextVar
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connections
from django.utils import timezone, translation

from mizan_channels import threads
from mizan_channels.threads import threaded
from tests.conftest import TIMEOUT


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
