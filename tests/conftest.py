"""Shared fixtures: real Redis (the machine's, or a private one), timeouts, registry hygiene.

Where a service can't be had, tests skip with the reason; with CI=true they fail instead,
so CI can never go green by skipping.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mizan_channels import threads
from tests.servers import RedisServer, free_port, port_open

CI = os.environ.get("CI", "").lower() == "true"
#: Every await in the suite is bounded by this (scaled by MIZAN_TEST_TIMEOUT_SCALE).
TIMEOUT = 5.0 * float(os.environ.get("MIZAN_TEST_TIMEOUT_SCALE", "1"))


def need(reason: str) -> None:
    """Skip, or fail under CI=true, because `reason`."""
    if CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A real Redis: the machine's on 6379 when it answers, else a private redis-server.
    Tests use database 15 and `mizan:` keys, and flush only what they create."""
    if port_open("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/15"
        return
    if shutil.which("redis-server") is None:
        need("no Redis on 127.0.0.1:6379 and no redis-server binary to start one")
    server = RedisServer(free_port())
    server.start()
    try:
        yield server.url + "/15"
    finally:
        server.stop()


@pytest.fixture
def private_redis():
    """A redis-server of this test's own, on a free port, that the test may kill and restart."""
    if shutil.which("redis-server") is None:
        need("no redis-server binary to start a private Redis")
    server = RedisServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def _fanout_through(settings: Any, redis_url: str) -> AsyncIterator[None]:
    from mizan_channels import hub

    settings.MIZAN_REDIS_URL = redis_url
    hub.reset()
    yield
    await hub.get_hub().close()
    hub.reset()


@pytest.fixture
async def redis_fanout(settings: Any, redis_url: str) -> AsyncIterator[None]:
    """Fan-out through the real Redis broker (what several daphne processes share)."""
    async with _fanout_through(settings, redis_url):
        yield


@pytest.fixture(params=["local", "redis"])
async def fanout(request: pytest.FixtureRequest, settings: Any) -> AsyncIterator[str]:
    """The test once with the in-process broker, once through the real Redis one."""
    if request.param == "local":
        yield "local"
        return
    async with _fanout_through(settings, request.getfixturevalue("redis_url")):
        yield "redis"


@pytest.fixture
async def redis_hub(private_redis: RedisServer, settings: Any) -> AsyncIterator[RedisServer]:
    """A fresh hub on a Redis of the test's own, which the test may kill and restart."""
    from mizan_channels.hub import get_hub
    from mizan_channels.hub import reset as reset_hubs

    settings.MIZAN_REDIS_URL = private_redis.url
    reset_hubs()
    yield private_redis
    await get_hub().close()
    reset_hubs()


@pytest.fixture(autouse=True)
def _fresh_sync_pool():
    """Each test gets a new pool for sync calls, as it gets a new event loop: a pooled thread
    would otherwise carry a database connection into a test that has no database access."""
    yield
    threads.shutdown()


__all__ = ["CI", "TIMEOUT", "need", "socket"]
