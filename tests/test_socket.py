"""The multiplexed socket, in-process: every frame of the protocol and every error, and
that a bad frame never disturbs the socket, its other requests or its subscriptions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from mizan_channels import mwt
from mizan_channels.exceptions import MizanError
from mizan_channels.testing import MizanCommunicator
from tests.asgi import application
from tests.conftest import TIMEOUT
from tests.sockets import sock, still_works
from tests.testapp import clients

pytestmark = pytest.mark.django_db(transaction=True)


async def send_raw(
    c: MizanCommunicator, text: str | None = None, data: bytes | None = None
) -> None:
    if data is not None:
        await c.send_to(bytes_data=data)
    else:
        await c.send_to(text_data=text)


async def error_frame(c: MizanCommunicator) -> dict[str, Any]:
    return await c.next_frame(lambda f: f["t"] == "err")


async def test_hello_is_first_frame() -> None:
    async with sock() as c:
        assert c.hello["t"] == "hello" and c.hello["v"] == 1
        assert isinstance(c.hello["conn"], str) and c.hello["conn"]
        # Anonymous without a session: the all-sockets stream, and `conn` (its own).
        assert c.hello["epoch"] == {"all": c.hello["epoch"]["all"], "conn": c.hello["conn"]}


async def test_hello_carries_the_ir_digest_the_generator_uses() -> None:
    from mizan_channels import codegen, interface
    from mizan_channels.ir import build_ir

    interface.forget()
    async with sock() as c:
        assert c.hello["ir"] == codegen.digest(build_ir())


async def test_a_frame_that_never_comes_fails_the_wait_and_keeps_the_socket() -> None:
    """MizanCommunicator (README, Testing): waiting in vain is an AssertionError naming what
    arrived instead, not asgiref's timeout, which cancels the application (TimeoutError, then
    CancelledError from the disconnect at the end of `async with`)."""
    async with sock() as c:
        await c.call("echo", text="early")
        await c.request({"t": "ping"})
        with pytest.raises(AssertionError, match="no matching frame within the timeout; got"):
            await c.next_frame(lambda f: f["t"] == "msg", timeout=0.2)
        await still_works(c)


async def test_an_application_that_crashes_fails_the_wait_at_once() -> None:
    """Its own exception, as soon as it ends, not after the wait's timeout (30 s here)."""

    async def crashes(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": '{"t":"hello"}'})
        await receive()  # the first frame
        await asyncio.sleep(0.05)  # the app's own work: the test is already waiting
        raise RuntimeError("the app broke")

    c = MizanCommunicator(crashes, "/ws/mizan/", timeout=30)
    await c.connect(timeout=TIMEOUT)
    await c.send_to(text_data="{}")
    with pytest.raises(RuntimeError, match="the app broke"):
        await asyncio.wait_for(c.next_frame(timeout=30), TIMEOUT)


async def test_sync_and_async_calls() -> None:
    async with sock() as c:
        assert await c.call("echo", text="hi") == {"message": "hi"}
        assert await c.call("aecho", text="a", times=3) == {"message": "aaa"}


async def test_ping_pong() -> None:
    async with sock() as c:
        assert (await c.request({"t": "ping"}))["t"] == "pong"


@pytest.mark.parametrize(
    ("fn", "args", "code"),
    [
        ("nope", {}, "unknown_function"),
        ("http_only", {}, "not_exposed"),
        ("hello_view", {"who": "x"}, "not_exposed"),
        ("echo", {}, "invalid_params"),
        ("echo", {"text": 1}, "invalid_params"),
        ("boom", {}, "server_error"),
        ("refuse", {}, "forbidden"),
        ("whoami", {}, "unauthorized"),
        ("bad_output", {}, "server_error"),
        ("surrogate", {}, "server_error"),
        ("unserializable", {}, "server_error"),
    ],
)
async def test_call_errors_keep_the_socket(fn: str, args: dict[str, Any], code: str) -> None:
    async with sock() as c:
        with pytest.raises(MizanError) as info:
            await c.call(fn, **args)
        assert info.value.code == code
        assert (
            "Traceback" not in info.value.message and "secret internals" not in info.value.message
        )
        await still_works(c)


async def test_invalid_params_details_shape() -> None:
    async with sock() as c:
        with pytest.raises(MizanError) as info:
            await c.call("echo", text=1, extra=2)
        locs = sorted(d["loc"][0] for d in info.value.details)
        assert locs == ["extra", "text"]
        assert all(set(d) == {"loc", "msg", "type"} for d in info.value.details)


@pytest.mark.parametrize(
    ("raw", "expected_id"),
    [
        ("not json", None),
        ("[1,2]", None),
        ('{"id": 1}', 1),
        ('{"t": 5, "id": 2}', 2),
        ('{"t": "call", "fn": "echo"}', None),
        ('{"t": "call", "id": true, "fn": "echo"}', None),
        ('{"t": "call", "id": "7", "fn": "echo"}', None),
        ('{"t": "call", "id": 3}', 3),
        ('{"t": "call", "id": 4, "fn": "echo", "args": [1]}', 4),
        ('{"t": "warp", "id": 5}', 5),
        ('{"t": "sub", "id": 6}', 6),
        # A position before any: Redis refused the replay it asked for (WARNING, traceback).
        ('{"t": "sub", "id": 10, "ch": "feed", "since": {"epoch": "e", "seq": -5}}', 10),
        ('{"t": "unsub", "id": 7, "sub": "x"}', 7),
        ('{"t": "send", "id": 8, "sub": 1}', 8),
        ('{"t": "auth", "id": 9}', 9),
        ('{"t": "ping", "id": 1e400}', None),
        ('{"t": "ping", "id": NaN}', None),
        ('{"t": "ping", "id": 99999999999999999999}', None),
        ('"\\ud800"', None),
    ],
)
async def test_bad_frames(raw: str, expected_id: int | None) -> None:
    async with sock() as c:
        await send_raw(c, raw)
        frame = await error_frame(c)
        assert frame["error"]["code"] == "bad_frame"
        assert frame["id"] == expected_id
        await still_works(c)


async def test_binary_frame_is_bad_frame() -> None:
    async with sock() as c:
        await send_raw(c, data=b'{"t":"ping","id":1}')
        assert (await error_frame(c))["error"]["code"] == "bad_frame"
        await still_works(c)


async def test_unknown_fields_are_ignored() -> None:
    async with sock() as c:
        await send_raw(c, '{"t": "ping", "id": 1, "future": {"x": 1}}')
        assert (await c.next_frame(lambda f: f["t"] == "pong"))["id"] == 1


async def test_duplicate_in_flight_id_refused_first_carries_on() -> None:
    async with sock() as c:
        await send_raw(c, '{"t": "call", "id": 1, "fn": "gate_wait"}')
        await send_raw(c, '{"t": "call", "id": 1, "fn": "echo", "args": {"text": "x"}}')
        dup = await error_frame(c)
        assert dup["id"] is None and dup["error"]["details"] == {"id": 1}
        await c.call("gate_open")
        first = await c.next_frame(lambda f: f["t"] == "ok" and f["id"] == 1)
        assert first["data"] == "passed"


# `def` (a task of its own) and `async def` (started in the task that read its frame, which
# hands reading over at the call's first wait).
@pytest.mark.parametrize("fn", ["gate_wait", "agate_wait"])
async def test_slow_call_never_delays_ping_or_other_calls(fn: str) -> None:
    async with sock() as c:
        await send_raw(c, f'{{"t": "call", "id": 100, "fn": "{fn}"}}')
        assert (await c.request({"t": "ping"}))["t"] == "pong"
        await still_works(c)
        await c.call("gate_open")
        assert (await c.next_frame(lambda f: f.get("id") == 100))["data"] == "passed"


async def test_a_call_that_never_waits_is_answered_before_the_next_frame_is_read() -> None:
    # Both frames wait in the receive queue together. Run in the reader's turn, the call is
    # done before the ping is read; started as a task of its own, its `ok` would follow the
    # `pong`.
    async with sock() as c:
        await send_raw(c, '{"t": "call", "id": 100, "fn": "aecho", "args": {"text": "a"}}')
        await send_raw(c, '{"t": "ping", "id": 101}')
        first = await c.next_frame(lambda f: f.get("id") in (100, 101))
        assert (first["t"], first["id"]) == ("ok", 100)
        assert (await c.next_frame(lambda f: f.get("id") == 101))["t"] == "pong"


async def test_a_timeout_or_task_group_in_a_call_ends_the_call_not_the_socket() -> None:
    # Both are entered while the call still runs in the task that read its frame; they bind
    # to that task, which from the call's first wait on runs the call and nothing else.
    async with sock() as c:
        assert await c.call("atimeout") == "timed out"
        assert await c.call("agroup") == "caught"
        await still_works(c)


async def test_a_call_that_raises_cancelled_error_itself_is_a_server_error() -> None:
    # Nothing cancelled it: it awaited a cancelled future. Re-raised, the error would leave
    # the call unanswered, and end the task reading the socket's frames.
    async with sock() as c:
        with pytest.raises(MizanError) as caught:
            await c.call("aawaits_cancelled")
        assert caught.value.code == "server_error"
        await still_works(c)


async def test_each_call_runs_in_a_context_of_its_own() -> None:
    async with sock() as c:
        assert await c.call("amark", value="first") == "unset"
        assert await c.call("amark", value="second") == "unset"


class _EagerTask(asyncio.tasks._PyTask):  # type: ignore[name-defined,misc]
    """Python 3.11's stand-in for 3.12's eager tasks: the first step runs inside
    `create_task`, before it returns."""

    def __init__(self, coro: Any, *, loop: Any, name: Any = None, context: Any = None) -> None:
        scheduled: list[asyncio.Handle] = []
        call_soon = loop.call_soon

        def capture(*args: Any, **kwargs: Any) -> asyncio.Handle:
            handle = call_soon(*args, **kwargs)
            scheduled.append(handle)
            return handle

        loop.call_soon = capture
        try:
            super().__init__(coro, loop=loop, name=name, context=context)
        finally:
            del loop.call_soon
        scheduled[0].cancel()  # the first step runs now instead
        current = asyncio.tasks._current_tasks.pop(loop, None)  # type: ignore[attr-defined]
        try:
            self._context.run(self._Task__step)
        finally:
            if current is not None:
                asyncio.tasks._current_tasks[loop] = current  # type: ignore[attr-defined]


def _eager_task_factory(loop: Any, coro: Any, **kwargs: Any) -> Any:
    eager = getattr(asyncio, "eager_task_factory", None)
    if eager is not None:
        return eager(loop, coro, **kwargs)
    return _EagerTask(coro, loop=loop, **kwargs)


async def test_the_socket_keeps_reading_on_a_loop_that_starts_tasks_eagerly() -> None:
    # A server may set `asyncio.eager_task_factory` on its loop. A reader started eagerly
    # ran before `self.reader` named it: it stopped reading after the first call that never
    # waited, and the socket answered nothing more.
    loop = asyncio.get_running_loop()
    loop.set_task_factory(_eager_task_factory)
    try:
        async with sock() as c:
            assert await c.call("aecho", text="a") == {"message": "a"}
            await still_works(c)
            await send_raw(c, '{"t": "call", "id": 100, "fn": "agate_wait"}')
            assert (await c.request({"t": "ping"}))["t"] == "pong"
            await c.call("gate_open")
            assert (await c.next_frame(lambda f: f.get("id") == 100))["data"] == "passed"
            await still_works(c)
    finally:
        loop.set_task_factory(None)


async def test_two_slow_sync_calls_on_one_socket_run_concurrently() -> None:
    async with sock() as c:
        results = await asyncio.gather(c.call("rendezvous"), c.call("rendezvous"))
        assert results == [True, True]


async def test_too_large_frame_answered_and_socket_survives(settings: Any) -> None:
    settings.MIZAN_MAX_FRAME_BYTES = 200
    async with sock() as c:
        limit = 200
        base = '{"t":"call","id":1,"fn":"echo","args":{"text":"'
        for size, ok in ((limit - 1, True), (limit, True), (limit + 1, False)):
            text = base + "x" * (size - len(base) - 3) + '"}}'
            assert len(text) == size
            await send_raw(c, text)
            frame = await c.next_frame(lambda f: f["t"] in ("ok", "err"))
            assert (frame["t"] == "ok") is ok, (size, frame)
            if not ok:
                assert frame["error"]["code"] == "too_large"
        await still_works(c)


async def test_far_oversize_frame_closes_with_4009(settings: Any) -> None:
    settings.MIZAN_MAX_FRAME_BYTES = 100
    async with sock() as c:
        await send_raw(c, "x" * 1000)
        assert (await error_frame(c))["error"]["code"] == "too_large"
        closed = await c.receive_output(TIMEOUT)
        assert closed == {"type": "websocket.close", "code": 4009, "reason": closed["reason"]}


async def test_rate_limit_answers_then_recovers(settings: Any) -> None:
    settings.MIZAN_RATE_LIMIT = 5
    async with sock() as c:
        for i in range(20):
            await send_raw(c, f'{{"t": "ping", "id": {i}}}')
        frames = [await c.next_frame(lambda f: f["t"] in ("pong", "err")) for _ in range(20)]
        codes = [f["error"]["code"] for f in frames if f["t"] == "err"]
        assert codes and set(codes) == {"rate_limited"}
        assert sum(f["t"] == "pong" for f in frames) >= 5


async def test_rate_limited_request_is_answered_with_its_id(settings: Any) -> None:
    # The client's request fails at once, instead of waiting out its timeout for a reply
    # to an id the `err` didn't name.
    settings.MIZAN_RATE_LIMIT = 2
    async with sock() as c:
        for i in range(6):
            await send_raw(c, f'{{"t": "call", "id": {i}, "fn": "echo", "args": {{"text": "x"}}}}')
        frames = [await c.next_frame(lambda f: f["t"] in ("ok", "err")) for _ in range(6)]
        refused = [f for f in frames if f["t"] == "err"]
        assert refused and all(f["error"]["code"] == "rate_limited" for f in refused)
        assert sorted(f["id"] for f in frames) == list(range(6))


async def test_persistent_flood_closes_with_4008(settings: Any) -> None:
    settings.MIZAN_RATE_LIMIT = 1
    settings.MIZAN_RATE_ABUSE_STRIKES = 10
    async with sock() as c:
        for i in range(30):
            await send_raw(c, f'{{"t": "ping", "id": {i}}}')
        while True:
            out = await c.receive_output(TIMEOUT)
            if out["type"] == "websocket.close":
                assert out["code"] == 4008
                break


async def test_calls_in_flight_cap(settings: Any) -> None:
    settings.MIZAN_MAX_IN_FLIGHT = 1
    async with sock() as c:
        await send_raw(c, '{"t": "call", "id": 1, "fn": "gate_wait"}')
        await send_raw(c, '{"t": "call", "id": 2, "fn": "echo", "args": {"text": "x"}}')
        frame = await error_frame(c)
        assert frame["id"] == 2 and frame["error"]["code"] == "rate_limited"
        assert (await c.request({"t": "ping"}))["t"] == "pong"  # pings aren't calls
        clients._gate.set()
        assert (await c.next_frame(lambda f: f.get("id") == 1))["data"] == "passed"


async def test_disconnect_cancels_in_flight_calls() -> None:
    clients.cancelled.clear()
    c = sock()
    await c.connect()
    await send_raw(c, '{"t": "call", "id": 1, "fn": "acancellable"}')
    assert (await c.request({"t": "ping"}))["t"] == "pong"  # the call is running by now
    await c.disconnect()
    await asyncio.wait_for(clients.cancelled.wait(), TIMEOUT)


async def test_request_object_over_socket() -> None:
    async with sock() as c:
        info = await c.call("request_info")
    assert info == {
        "transport": "websocket",
        "method": "WEBSOCKET",
        "user": "",
        "origin": "http://localhost",
        "is_websocket": True,
    }


async def test_session_user_is_the_socket_user() -> None:
    ann = await User.objects.acreate(username="ann")
    async with sock(user=ann) as c:
        assert set(c.hello["epoch"]) == {"user", "session", "all"}
        assert await c.call("whoami") == "ann"
        assert (await c.call("request_info"))["user"] == "ann"


async def test_cross_origin_socket_refused() -> None:
    c = MizanCommunicator(application, origin="http://evil.example")
    connected, _ = await c.__class__.__mro__[1].connect(c, TIMEOUT)
    assert not connected


async def test_mwt_auth_frame() -> None:
    ann = await User.objects.acreate(username="ann")
    token, _ = await sync_to_async(mwt.issue)(ann)
    async with sock() as c:
        with pytest.raises(MizanError) as info:
            await c.call("whoami")
        assert info.value.code == "unauthorized"
        reply = await c.request({"t": "auth", "token": token})
        assert reply == {"t": "ok", "id": reply["id"], "data": None}
        assert await c.call("whoami") == "ann"
        resync = await c.next_frame(lambda f: f["t"] == "resync" and f.get("aud") == "user")
        assert resync["epoch"]
        await c.next_frame(lambda f: f["t"] == "resync" and f.get("aud") == "all")


@pytest.mark.parametrize("mutate", ["tamper", "foreign", "garbage"])
async def test_bad_mwt_is_unauthorized(mutate: str, settings: Any) -> None:
    ann = await User.objects.acreate(username="ann")
    token, _ = await sync_to_async(mwt.issue)(ann)
    if mutate == "tamper":
        token = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    elif mutate == "foreign":
        settings.MIZAN_MWT_SECRET = "another-secret-0123456789abcdefghijklmnopqrstu"
    else:
        token = "not-a-token"
    async with sock() as c:
        reply = await c.request({"t": "auth", "token": token})
        assert reply["error"]["code"] == "unauthorized"
        assert token not in str(reply)
        await still_works(c)


async def test_mwt_dies_with_password_change() -> None:
    ann = await User.objects.acreate(username="ann")
    token, _ = await sync_to_async(mwt.issue)(ann)

    def change() -> None:
        ann.set_password("new")
        ann.save()

    await sync_to_async(change)()
    async with sock() as c:
        reply = await c.request({"t": "auth", "token": token})
        assert reply["error"]["code"] == "unauthorized"


async def test_mwt_expires(settings: Any) -> None:
    ann = await User.objects.acreate(username="ann")
    token, _ = await sync_to_async(mwt.issue)(ann)
    settings.MIZAN_MWT_TTL = -1  # every token is now past its lifetime
    async with sock() as c:
        reply = await c.request({"t": "auth", "token": token})
        assert reply["error"]["code"] == "unauthorized"


async def test_frames_bypass_the_session_middlewares_send_wrapper() -> None:
    """`server_send` finds the server's own send under Channels' session wrapper (which
    only ever acts on HTTP responses), through any depth of wrapping."""
    from channels.sessions import InstanceSessionWrapper

    from mizan_channels.consumers.socket import server_send

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "cookies": {}, "session": None}
    inner = InstanceSessionWrapper(dict(scope), send)
    outer = InstanceSessionWrapper(dict(scope), inner.send)
    assert server_send(outer.send) is send
    assert server_send(send) is send
