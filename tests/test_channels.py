"""ReactChannel: declaration rules, subscriptions over the socket, pushes, isolation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.db import transaction
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from mizan_channels import ReactChannel, protocol
from mizan_channels.channels import channel_name_for
from mizan_channels.exceptions import ConfigurationError, MizanError
from mizan_channels.hub import get_hub
from mizan_channels.registry import registry
from mizan_channels.testing import MizanCommunicator
from tests.asgi import application
from tests.conftest import TIMEOUT
from tests.sockets import sock
from tests.testapp.clients import ChatChannel, NewsChannel

DB = pytest.mark.django_db(transaction=True)


def msg(text: str, user: str = "ann") -> Any:
    return ChatChannel.DjangoMessage(text=text, user=user)


# Declaration --------------------------------------------------------------------------


def test_names_derived_from_class() -> None:
    assert channel_name_for("ChatChannel") == "chat"
    assert channel_name_for("RoomPresenceChannel") == "room_presence"
    assert channel_name_for("Feed") == "feed"
    assert registry.channels["chat"] is ChatChannel
    assert registry.channels["news"] is NewsChannel


class _P(BaseModel):
    room: str


class _M(BaseModel):
    text: str


def test_missing_params_says_what_to_add() -> None:
    with pytest.raises(ConfigurationError, match=r"needs a `class Params\(BaseModel\)`"):

        class NoParamsChannel(ReactChannel):
            DjangoMessage = _M

            def group(self, params: Any) -> str:
                return "x"


def test_missing_group_says_what_to_add() -> None:
    with pytest.raises(ConfigurationError, match=r"needs `def group\(self, params\) -> str`"):

        class NoGroupChannel(ReactChannel):
            Params = _P
            DjangoMessage = _M


def test_non_pydantic_message_refused() -> None:
    with pytest.raises(ConfigurationError, match="must be a Pydantic model"):

        class BadMessageChannel(ReactChannel):
            Params = _P

            class DjangoMessage:
                text: str

            def group(self, params: Any) -> str:
                return "x"


def test_react_message_needs_receive() -> None:
    with pytest.raises(ConfigurationError, match=r"no `def receive\(self, params, message\)`"):

        class NoReceiveChannel(ReactChannel):
            Params = _P
            DjangoMessage = _M
            ReactMessage = _M

            def group(self, params: Any) -> str:
                return "x"


def test_duplicate_channel_name_refused() -> None:
    with pytest.raises(ConfigurationError, match="declared twice"):

        class OtherChat(ReactChannel):
            name = "chat"
            Params = _P
            DjangoMessage = _M

            def group(self, params: Any) -> str:
                return "x"


def test_explicit_name_and_abstract_base() -> None:
    class Base(ReactChannel, abstract=True):
        Params = _P
        DjangoMessage = _M

    class Named(Base):
        name = "custom_named"

        def group(self, params: Any) -> str:
            return params.room

    assert registry.channels["custom_named"] is Named
    registry.channels.pop("custom_named")


# Streams ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.text(max_size=300))
def test_group_streams_are_valid_and_never_collide(a: str, b: str) -> None:
    sa = ChatChannel.stream_for(ChatChannel.Params(room=a))
    sb = ChatChannel.stream_for(ChatChannel.Params(room=b))
    for s in (sa, sb):
        assert len(s) < 100 and s.isascii() and s.replace(":", "").replace("_", "").isalnum()
    assert (sa == sb) == (a == b)


def test_stream_namespaces_are_disjoint() -> None:
    """No params can name a user's or the all-sockets stream, or another channel's."""
    s = ChatChannel.stream_for(ChatChannel.Params(room="u:1"))
    assert s.startswith("ch:chat:")
    n = NewsChannel.stream_for(NewsChannel.Params())
    assert n.startswith("ch:news:") and n != s


def test_push_validates_before_sending() -> None:
    with pytest.raises(ValidationError):
        ChatChannel.push({"text": "no user"}, room="a")
    with pytest.raises(MizanError) as info:
        ChatChannel.push(msg("x"), roomz="a")
    assert info.value.code == "invalid_params"


# Subscriptions over the socket ----------------------------------------------------------


@DB
async def test_subscribe_and_receive_pushes() -> None:
    async with sock() as c:
        reply = await c.request({"t": "sub", "ch": "chat", "params": {"room": "a"}})
        data = reply["data"]
        assert data["sub"] == reply["id"] and isinstance(data["epoch"], str) and data["seq"] >= 0
        await ChatChannel.apush(msg("hello"), room="a")
        frame = await c.next_frame(lambda f: f["t"] == "msg")
        assert frame["sub"] == data["sub"] and frame["data"] == {"text": "hello", "user": "ann"}
        assert frame["seq"] == data["seq"] + 1


@DB
async def test_sync_push_from_worker_thread_reaches_socket() -> None:
    async with sock() as c:
        sub = await c.subscribe("chat", room="sync")
        await sync_to_async(ChatChannel.push, thread_sensitive=False)(
            msg("from thread"), room="sync"
        )
        assert (await c.assert_pushed(sub))["text"] == "from thread"


@DB
async def test_rooms_are_isolated() -> None:
    async with sock() as a, sock() as b:
        sa = await a.subscribe("chat", room="a")
        sb = await b.subscribe("chat", room="b")
        await ChatChannel.apush(msg("for a"), room="a")
        await ChatChannel.apush(msg("for b"), room="b")
        assert (await a.assert_pushed(sa))["text"] == "for a"
        assert (await b.assert_pushed(sb))["text"] == "for b"
        await a.assert_nothing()
        await b.assert_nothing()


@DB
async def test_several_subscriptions_each_get_their_own() -> None:
    async with sock() as c:
        s1 = await c.subscribe("chat", room="a")
        s2 = await c.subscribe("chat", room="a")
        s3 = await c.subscribe("news")
        await ChatChannel.apush(msg("x"), room="a")
        frames = [await c.next_frame(lambda f: f["t"] == "msg") for _ in range(2)]
        assert sorted(f["sub"] for f in frames) == sorted([s1, s2])
        await NewsChannel.apush(NewsChannel.DjangoMessage(headline="h"))
        assert (await c.assert_pushed(s3)) == {"headline": "h"}


@DB
async def test_unauthorized_subscriber_never_receives() -> None:
    bob = await User.objects.acreate(username="bob")
    async with sock() as anon, sock(user=bob) as b:
        with pytest.raises(MizanError) as info:
            await anon.subscribe("chat", room="secret")
        assert info.value.code == "unauthorized"
        with pytest.raises(MizanError) as info:
            await b.subscribe("chat", room="secret")
        assert info.value.code == "forbidden"
        await ChatChannel.apush(msg("classified"), room="secret")
        await anon.assert_nothing()
        await b.assert_nothing()


@DB
async def test_staff_may_subscribe_to_secret() -> None:
    sam = await User.objects.acreate(username="sam", is_staff=True)
    async with sock(user=sam) as c:
        sub = await c.subscribe("chat", room="secret")
        await ChatChannel.apush(msg("classified"), room="secret")
        assert (await c.assert_pushed(sub))["text"] == "classified"


@DB
@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"t": "sub", "ch": "nope"}, "unknown_channel"),
        ({"t": "sub", "ch": "chat", "params": {}}, "invalid_params"),
        ({"t": "sub", "ch": "chat", "params": {"room": 5}}, "invalid_params"),
        ({"t": "unsub", "sub": 12345}, "not_subscribed"),
        ({"t": "send", "sub": 12345, "data": {}}, "not_subscribed"),
    ],
)
async def test_subscription_errors(frame: dict[str, Any], code: str) -> None:
    async with sock() as c:
        reply = await c.request(frame)
        assert reply["t"] == "err" and reply["error"]["code"] == code
        assert await c.call("echo", text="ok") == {"message": "ok"}


@DB
async def test_unsub_stops_delivery_and_leaves_the_stream() -> None:
    async with sock() as c:
        sub = await c.subscribe("chat", room="u")
        stream = ChatChannel.stream_for(ChatChannel.Params(room="u"))
        assert stream in get_hub().streams
        await c.unsubscribe(sub)
        assert stream not in get_hub().streams
        await ChatChannel.apush(msg("late"), room="u")
        await c.assert_nothing()


@DB
async def test_disconnect_leaves_every_stream() -> None:
    c = sock()
    await c.connect()
    await c.subscribe("chat", room="gone")
    stream = ChatChannel.stream_for(ChatChannel.Params(room="gone"))
    assert stream in get_hub().streams
    await c.disconnect()
    assert stream not in get_hub().streams


@DB
async def test_send_frames_validated_and_handled() -> None:
    ann = await User.objects.acreate(username="ann")
    async with sock(user=ann) as c:
        sub = await c.subscribe("chat", room="talk")
        assert await c.send_message(sub, {"text": "hi all"}) == {"stored": True}
        assert await c.assert_pushed(sub) == {"text": "hi all", "user": "ann"}
        reply = await c.request({"t": "send", "sub": sub, "data": {"txt": 1}})
        assert reply["error"]["code"] == "invalid_params"
        news = await c.subscribe("news")
        reply = await c.request({"t": "send", "sub": news, "data": {}})
        assert reply["error"]["code"] == "not_exposed"


@DB
async def test_subscription_cap(settings: Any) -> None:
    settings.MIZAN_MAX_SUBSCRIPTIONS = 2
    async with sock() as c:
        await c.subscribe("chat", room="1")
        await c.subscribe("chat", room="2")
        with pytest.raises(MizanError) as info:
            await c.subscribe("chat", room="3")
        assert info.value.code == "rate_limited"


@DB
async def test_push_inside_atomic_waits_for_commit() -> None:
    async with sock() as c:
        sub = await c.subscribe("chat", room="tx")

        def rolled_back() -> None:
            with pytest.raises(RuntimeError), transaction.atomic():
                ChatChannel.push(msg("never"), room="tx")
                raise RuntimeError("rollback")

        def committed() -> None:
            with transaction.atomic():
                ChatChannel.push(msg("after commit"), room="tx")

        await sync_to_async(rolled_back)()
        await sync_to_async(committed)()
        assert (await c.assert_pushed(sub))["text"] == "after commit"
        await c.assert_nothing()


@DB
async def test_standalone_channel_endpoint() -> None:
    async with MizanCommunicator(application, "/ws/mizan/ch/chat/?room=solo", timeout=TIMEOUT) as c:
        ok = await c.next_frame(lambda f: f["t"] == "ok" and f["id"] == 0)
        assert ok["data"]["sub"] == 0
        await ChatChannel.apush(msg("solo"), room="solo")
        assert (await c.assert_pushed(0))["text"] == "solo"
        reply = await c.request({"t": "sub", "ch": "news"})
        assert reply["error"]["code"] == "not_exposed"


@DB
async def test_standalone_endpoint_refusal_closes() -> None:
    c = MizanCommunicator(application, "/ws/mizan/ch/chat/?room=secret", timeout=TIMEOUT)
    await c.connect()
    err = await c.next_frame(lambda f: f["t"] == "err")
    assert err["id"] == 0 and err["error"]["code"] == "unauthorized"
    closed = await c.receive_output(TIMEOUT)
    assert closed["type"] == "websocket.close" and closed["code"] == 4401


async def test_standalone_endpoint_of_an_unknown_channel_closes_with_4404() -> None:
    c = MizanCommunicator(application, "/ws/mizan/ch/nope/?room=x", timeout=TIMEOUT)
    await c.connect()  # not refused at the handshake, which would read as an origin refusal
    err = await c.next_frame(lambda f: f["t"] == "err")
    assert err["id"] == 0 and err["error"]["code"] == "unknown_channel"
    closed = await c.receive_output(TIMEOUT)
    assert closed["type"] == "websocket.close" and closed["code"] == 4404


@DB
async def test_concurrent_joins_of_one_stream() -> None:
    """Many sockets joining a new stream at once all end up subscribed (one membership)."""
    socks = [sock() for _ in range(10)]
    await asyncio.gather(*(s.connect() for s in socks))
    subs = await asyncio.gather(*(s.subscribe("chat", room="crowd") for s in socks))
    await ChatChannel.apush(msg("all"), room="crowd")
    for s, sub in zip(socks, subs, strict=True):
        assert (await s.assert_pushed(sub))["text"] == "all"
    await asyncio.gather(*(s.disconnect() for s in socks))


@DB
async def test_unsub_pipelined_behind_its_sub_ends_it() -> None:
    """`sub` then `unsub` sent together (a component mounted and unmounted at once): the
    `unsub` waits for the `sub` it names, so the subscription is ended, not left held with
    `not_subscribed` for the `unsub`. A `send` waits the same way; an `unsub` of a `sub` that
    was refused is `not_subscribed`."""
    async with sock() as c:
        for frame in (
            {"t": "sub", "id": 1, "ch": "chat", "params": {"room": "pipelined"}},
            {"t": "send", "id": 2, "sub": 1, "data": {"text": "first"}},
            {"t": "unsub", "id": 3, "sub": 1},
            {"t": "sub", "id": 4, "ch": "guarded", "params": {"mode": "closed"}},
            {"t": "unsub", "id": 5, "sub": 4},
        ):
            await c.send_to(text_data=protocol.dumps(frame).decode())
        replies = {}
        for _ in range(5):
            got = await c.next_frame(lambda f: f["t"] in ("ok", "err"))
            replies[got["id"]] = got["t"] if got["t"] == "ok" else got["error"]["code"]
        assert replies == {1: "ok", 2: "ok", 3: "ok", 4: "unauthorized", 5: "not_subscribed"}
        assert ChatChannel.stream_for(ChatChannel.Params(room="pipelined")) not in get_hub().streams
        await ChatChannel.apush(msg("late"), room="pipelined")
        assert await c.call("echo", text="after") == {"message": "after"}
        assert not [f for f in c._backlog if f["t"] == "msg" and f["data"]["text"] == "late"]
