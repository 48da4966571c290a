"""Fault tests against real daphne and real redis-server: no client is ever silently behind.

Each is bounded well under 60 s. Clients are `mizan_channels.remote` clients; a client
"saw everything" when it received every number that was published, and otherwise must have
been told to resync.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import pytest

from mizan_channels.remote import Client, Subscription, connect
from tests.conftest import TIMEOUT
from tests.e2e.conftest import server

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


class Watcher:
    """One subscriber's view: the numbers it received and how often it was told to resync."""

    def __init__(self, client: Client, sub: Subscription) -> None:
        self.client = client
        self.sub = sub
        self.seen: set[int] = set()
        self.changed = asyncio.Event()
        self.task = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        async for data in self.sub:
            self.seen.add(int(data["n"]))
            self.changed.set()

    async def saw(self, n: int, timeout: float) -> bool:
        """Wait up to `timeout` for `n` to arrive."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while n not in self.seen:
            self.changed.clear()
            left = deadline - loop.time()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)
        return True


async def open_watchers(urls: list[list[str]], topic: str) -> list[Watcher]:
    watchers = []
    for url in urls:
        c = await connect(url, timeout=TIMEOUT).open()
        sub = await c.subscribe("feed", topic=topic)
        watchers.append(Watcher(c, sub))
    return watchers


async def close_all(watchers: list[Watcher]) -> None:
    for w in watchers:
        w.task.cancel()
        with contextlib.suppress(BaseException):
            await w.task
        await w.client.close()


async def publish_until_all_see(
    publisher: Client, topic: str, watchers: list[Watcher], n: int, seconds: float
) -> None:
    """Publish `n` until every watcher has it (a publish made while a process was still
    resubscribing may not reach it): the stream flows again within `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        with contextlib.suppress(Exception):
            await publisher.call("publish_numbered", topic=topic, n=n)
        results = await asyncio.gather(*(w.saw(n, 1.0) for w in watchers))
        if all(results):
            return
        assert loop.time() < deadline, f"{sum(results)}/{len(watchers)} saw {n}"


def check_no_silent_loss(watchers: list[Watcher], published: set[int]) -> None:
    for i, w in enumerate(watchers):
        missing = published - w.seen
        assert not missing or w.sub.resyncs > 0, f"client {i} silently missed {sorted(missing)}"


async def test_redis_restart_mid_stream_50_subscribers(e2e_db: str, private_redis: Any) -> None:
    url = private_redis.url
    with server(e2e_db, url) as one, server(e2e_db, url) as two:
        ws = [one.ws_url + "/ws/mizan/", two.ws_url + "/ws/mizan/"]
        watchers = await open_watchers([[ws[i % 2]] for i in range(50)], "restart")
        publisher = await connect(ws[0], timeout=TIMEOUT).open()
        published: set[int] = set()
        try:
            for n in range(1, 61):
                if n == 20:
                    private_redis.kill()
                if n == 40:
                    private_redis.start()
                with contextlib.suppress(Exception):
                    await publisher.call("publish_numbered", topic="restart", n=n)
                    published.add(n)
            await publish_until_all_see(publisher, "restart", watchers, 1000, 30)
            published.add(1000)
            check_no_silent_loss(watchers, published)
            assert all(w.sub.resyncs > 0 for w in watchers)  # the outage lost numbers for all
            assert all(set(range(1, 20)) <= w.seen for w in watchers)  # before it: everything
        finally:
            await publisher.close()
            await close_all(watchers)


async def test_mutation_while_redis_down_is_not_a_500(e2e_db: str, private_redis: Any) -> None:
    with server(e2e_db, private_redis.url) as d:
        async with connect(d.ws_url + "/ws/mizan/", timeout=TIMEOUT) as c:
            private_redis.kill()
            assert await c.call("add_room", name="while-down") == "while-down"
            inv = await asyncio.wait_for(c.invalidations.get(), TIMEOUT)
            assert inv["t"] == "inv"
            private_redis.start()
            assert await c.call("add_room", name="after") == "after"
        assert "Traceback" not in d.output()


async def test_sigterm_one_process_clients_converge_on_the_other(
    e2e_db: str, redis_url: str
) -> None:
    with server(e2e_db, redis_url) as one, server(e2e_db, redis_url) as two:
        urls = [one.ws_url + "/ws/mizan/", two.ws_url + "/ws/mizan/"]
        watchers = await open_watchers([urls for _ in range(10)], "failover")
        publisher = await connect(urls[1], timeout=TIMEOUT).open()
        published: set[int] = set()
        try:
            for n in range(1, 6):
                await publisher.call("publish_numbered", topic="failover", n=n)
                published.add(n)
            one.terminate(signal.SIGTERM)
            for n in range(6, 11):
                await publisher.call("publish_numbered", topic="failover", n=n)
                published.add(n)
            await publish_until_all_see(publisher, "failover", watchers, 1000, 30)
            published.add(1000)
            check_no_silent_loss(watchers, published)
            assert all(w.client.url == urls[1] for w in watchers)
        finally:
            await publisher.close()
            await close_all(watchers)


async def test_quiet_streams_resync_after_redis_returns(e2e_db: str, private_redis: Any) -> None:
    """After an outage every stream of a socket is resynced by its own process reconnecting,
    within the protocol's bound (MIZAN_RESUBSCRIBE_WITHIN, 10 s), even a stream nobody
    publishes to afterwards (here the socket's audience streams), and its subscription flows
    again. The publish lost during the outage comes from the other process."""
    url = private_redis.url
    with server(e2e_db, url) as one, server(e2e_db, url) as two:
        watcher = await connect(one.ws_url + "/ws/mizan/", timeout=TIMEOUT).open()
        publisher = await connect(two.ws_url + "/ws/mizan/", timeout=TIMEOUT).open()
        seen = Watcher(watcher, await watcher.subscribe("feed", topic="quiet"))
        try:
            await publish_until_all_see(publisher, "quiet", [seen], 1, 10)
            private_redis.kill()
            assert await publisher.call("publish_numbered", topic="quiet", n=2) is True  # lost
            wanted = {("sub", seen.sub.id), ("aud", "all")}
            resynced: set[tuple[str, Any]] = set()  # only a resync after the loss covers it
            done = asyncio.Event()

            def on_resync(frame: dict[str, Any]) -> None:
                resynced.update((k, frame[k]) for k in ("sub", "aud") if k in frame)
                if wanted <= resynced:
                    done.set()

            watcher.on_resync.append(on_resync)
            private_redis.start()
            await asyncio.wait_for(done.wait(), 10 + TIMEOUT)
            await publish_until_all_see(publisher, "quiet", [seen], 3, 10)
            assert "Traceback" not in one.output() + two.output()
        finally:
            await close_all([seen])
            await publisher.close()


async def test_socket_opened_while_redis_is_down(e2e_db: str, private_redis: Any) -> None:
    """Redis down before the socket opens: it still gets `hello`, calls work, and its
    audience streams resync once Redis is back (no 1011, no traceback)."""
    private_redis.kill()
    with server(e2e_db, private_redis.url) as d:
        async with connect(d.ws_url + "/ws/mizan/", timeout=TIMEOUT) as c:
            assert c.hello["t"] == "hello"
            assert await c.call("echo", text="down") == {"message": "down"}
            resynced = asyncio.Event()
            c.on_resync.append(lambda f: resynced.set() if f.get("aud") == "all" else None)
            private_redis.start()
            await asyncio.wait_for(resynced.wait(), 10 + TIMEOUT)
        assert "Traceback" not in d.output()
