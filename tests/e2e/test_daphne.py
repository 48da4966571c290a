"""End to end: real daphne processes, the Python client over real sockets, and real Redis
carrying pushes and invalidations between two processes."""

from __future__ import annotations

import asyncio

import pytest

from mizan_channels.remote import RemoteError, connect
from tests.conftest import TIMEOUT
from tests.e2e.conftest import server

pytestmark = pytest.mark.e2e


async def test_calls_and_errors_over_a_real_socket(e2e_db: str) -> None:
    with server(e2e_db) as d:
        async with connect(d.ws_url + "/ws/mizan/", timeout=TIMEOUT) as c:
            assert c.hello["v"] == 1
            assert await c.call("echo", text="hi") == {"message": "hi"}
            with pytest.raises(RemoteError) as info:
                await c.call("echo")
            assert info.value.code == "invalid_params"
            await c.ping()
            sub = await c.subscribe("chat", room="e2e")
            assert await sub.send({"text": "loop"}) == {"stored": True}
            assert await sub.next(TIMEOUT) == {"text": "loop", "user": ""}


async def test_http_call_with_csrf_token(e2e_db: str) -> None:
    """Django's CSRF rules apply to every POST: a client first gets the token (any context
    fetch sets the cookie), then sends it back as X-CSRFToken."""
    import http.cookiejar
    import urllib.error
    import urllib.request

    with server(e2e_db) as d:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

        def post(token: str | None) -> tuple[int, bytes]:
            headers = {"Content-Type": "application/json"}
            if token:
                headers["X-CSRFToken"] = token
            req = urllib.request.Request(
                d.url + "/api/mizan/call/echo",
                data=b'{"text": "http"}',
                headers=headers,
                method="POST",
            )
            try:
                with opener.open(req, timeout=TIMEOUT) as r:
                    return r.status, bytes(r.read())
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read()

        def fetch_token() -> str:
            opener.open(d.url + "/api/mizan/ctx/rooms", timeout=TIMEOUT).read()
            return next(c.value for c in jar if c.name == "csrftoken")

        assert (await asyncio.to_thread(post, None))[0] == 403
        token = await asyncio.to_thread(fetch_token)
        status, body = await asyncio.to_thread(post, token)
        assert (status, body) == (200, b'{"data":{"message":"http"},"inv":[]}')


async def test_socket_without_allowed_origin_is_refused(e2e_db: str) -> None:
    with server(e2e_db) as d, pytest.raises(Exception, match=r"403|rejected"):
        async with connect(
            d.ws_url + "/ws/mizan/",
            origin="http://evil.example",
            reconnect=False,
            timeout=TIMEOUT,
        ):
            pass


@pytest.mark.redis
async def test_push_crosses_processes_through_redis(e2e_db: str, redis_url: str) -> None:
    with server(e2e_db, redis_url) as one, server(e2e_db, redis_url) as two:
        async with (
            connect(one.ws_url + "/ws/mizan/", timeout=TIMEOUT) as a,
            connect(two.ws_url + "/ws/mizan/", timeout=TIMEOUT) as b,
        ):
            sa = await a.subscribe("chat", room="cross")
            sb = await b.subscribe("chat", room="cross")
            other = await a.subscribe("chat", room="elsewhere")
            await sb.send({"text": "from two"})
            assert await sa.next(TIMEOUT) == {"text": "from two", "user": ""}
            assert await sb.next(TIMEOUT) == {"text": "from two", "user": ""}
            assert other.messages.empty()
            # A shared invalidation made on process two reaches the socket on process one.
            await b.call("add_room", name="r")
            inv = await asyncio.wait_for(a.invalidations.get(), TIMEOUT)
            assert inv["keys"] == [{"ctx": "rooms"}] and inv["aud"] == "all"


@pytest.mark.redis
async def test_idle_subscriber_survives_past_redis_timeouts(e2e_db: str, redis_url: str) -> None:
    """redis-py 8 + channels_redis kill consumers idle for 5 s (scale.md); ours must live."""
    with server(e2e_db, redis_url) as one, server(e2e_db, redis_url) as two:
        async with (
            connect(one.ws_url + "/ws/mizan/", timeout=TIMEOUT) as a,
            connect(two.ws_url + "/ws/mizan/", timeout=TIMEOUT) as b,
        ):
            sa = await a.subscribe("chat", room="idle")
            sb = await b.subscribe("chat", room="other-idle")
            await asyncio.sleep(11)  # the condition under test is idleness itself
            await b.call("echo", text="awake")
            await sb.close()
            sb2 = await b.subscribe("chat", room="idle")
            await sb2.send({"text": "still here"})
            assert await sa.next(TIMEOUT) == {"text": "still here", "user": ""}
