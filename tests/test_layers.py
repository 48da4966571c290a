"""`group_send` through mizan's layers reaches ReactChannel subscribers, once, in order, and
still reaches the layer's own members (code written for Channels keeps working)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer

from tests.conftest import TIMEOUT
from tests.servers import RedisServer
from tests.sockets import sock

DB = pytest.mark.django_db(transaction=True)
CHAT = {"type": "chat.message", "text": "hi", "user": "bot"}


def use_layer(settings: Any, backend: str, url: str | None = None) -> None:
    config: dict[str, Any] = {"BACKEND": f"mizan_channels.layers.{backend}"}
    if url is not None:
        config["CONFIG"] = {"hosts": [url]}
    settings.CHANNEL_LAYERS = {"default": config}


async def member_of(group: str) -> tuple[Any, str]:
    """A consumer of the user's own: a layer channel in `group`."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return layer, channel


@DB
async def test_group_send_reaches_subscribers_and_the_layers_members(settings: Any) -> None:
    use_layer(settings, "InMemoryChannelLayer")
    async with sock() as c, sock() as other:
        sub = await c.subscribe("chat", room="lobby")
        await other.subscribe("chat", room="attic")
        layer, channel = await member_of("chat_lobby")
        await layer.group_send("chat_lobby", CHAT)
        frame = await c.next_frame(lambda f: f["t"] == "msg")
        assert frame["sub"] == sub and frame["data"] == {"text": "hi", "user": "bot"}
        assert frame["seq"] >= 1
        received = await asyncio.wait_for(layer.receive(channel), TIMEOUT)
        assert received == CHAT
        await c.assert_nothing()  # exactly once
        await other.assert_nothing()


@DB
async def test_a_message_that_fits_no_channel_reaches_only_the_layers_members(
    settings: Any,
) -> None:
    use_layer(settings, "InMemoryChannelLayer")
    async with sock() as c:
        await c.subscribe("chat", room="lobby")
        layer, channel = await member_of("chat_lobby")
        typing = {"type": "chat.typing", "who": "bot"}
        await layer.group_send("chat_lobby", typing)
        assert await asyncio.wait_for(layer.receive(channel), TIMEOUT) == typing
        await c.assert_nothing()


@DB
async def test_group_send_from_sync_code_keeps_the_streams_positions(settings: Any) -> None:
    """async_to_sync in a plain thread (a task runner's, not sync_to_async's, which lends it
    the calling loop) runs group_send on a loop of its own, with no hub: the push goes
    through the sync publisher and still gets the next position on the subscribers' stream."""
    use_layer(settings, "InMemoryChannelLayer")
    async with sock() as c:
        sub = await c.subscribe("chat", room="sync")
        layer = get_channel_layer()

        def from_a_task(text: str) -> None:
            async_to_sync(layer.group_send)("chat_sync", {**CHAT, "text": text})

        for text in ("one", "two", "three"):
            await asyncio.to_thread(from_a_task, text)
        frames = [await c.next_frame(lambda f: f["t"] == "msg") for _ in range(3)]
        assert [f["data"]["text"] for f in frames] == ["one", "two", "three"]
        assert all(f["sub"] == sub for f in frames)
        seqs = [f["seq"] for f in frames]
        assert seqs == list(range(seqs[0], seqs[0] + 3))


@DB
@pytest.mark.parametrize("backend", ["RedisPubSubChannelLayer", "RedisChannelLayer"])
async def test_redis_layers_forward_once(
    backend: str, redis_hub: RedisServer, settings: Any
) -> None:
    use_layer(settings, backend, redis_hub.url)
    async with sock() as c:
        sub = await c.subscribe("chat", room="r")
        layer, channel = await member_of("chat_r")
        await layer.group_send("chat_r", CHAT)
        frame = await c.next_frame(lambda f: f["t"] == "msg")
        assert frame["sub"] == sub and frame["data"]["text"] == "hi"
        assert await asyncio.wait_for(layer.receive(channel), TIMEOUT) == CHAT
        await c.assert_nothing()
        await layer.flush()


@pytest.mark.parametrize("backend", ["RedisPubSubChannelLayer", "RedisChannelLayer"])
@pytest.mark.parametrize(
    "host", ["redis://127.0.0.1:1/4", {"address": "redis://127.0.0.1:1/4"}, ("127.0.0.1", 1)]
)
def test_mizans_redis_layers_give_the_fanout_its_redis(
    backend: str, host: Any, settings: Any
) -> None:
    """Without MIZAN_REDIS_URL, the fan-out follows the layer's Redis for mizan's own layers
    as for channels_redis's (README, Settings): else each daphne process fans out alone, and
    a group_send or a push reaches only the subscribers of the process that made it."""
    from mizan_channels import broker

    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": f"mizan_channels.layers.{backend}", "CONFIG": {"hosts": [host]}}
    }
    expected = "redis://127.0.0.1:1" if isinstance(host, tuple) else "redis://127.0.0.1:1/4"
    assert broker.redis_url() == expected


def test_a_layer_of_the_projects_own_on_channels_redis_gives_the_fanout_its_redis(
    settings: Any,
) -> None:
    from mizan_channels import broker

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "tests.test_layers.ProjectLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/4"]},
        }
    }
    assert broker.redis_url() == "redis://127.0.0.1:1/4"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "mizan_channels.layers.InMemoryChannelLayer"}}
    assert broker.redis_url() == ""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "no_such_module.Layer"}}
    assert broker.redis_url() == ""


class ProjectLayer(RedisPubSubChannelLayer):
    """A project's own subclass of a channels_redis layer."""
