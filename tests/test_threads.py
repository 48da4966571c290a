"""Sync user code runs on mizan's bounded pool, and database connections opened there are
cleaned up around each call the way Django cleans up around a request."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from django.db import connections

from mizan_channels import conf
from mizan_channels.threads import threaded
from tests.conftest import TIMEOUT


async def test_sync_calls_run_on_a_bounded_pool_of_named_threads() -> None:
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
    assert 2 <= len(seen) <= conf.get().SYNC_WORKERS


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
