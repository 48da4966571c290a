"""Channel layers whose `group_send` also reaches `ReactChannel` subscribers.

mizan's own traffic never crosses the channel layer (scale.md, rule 1: one Redis
subscription per process and stream, not a member list per socket). Code written for
Channels pushes with `channel_layer.group_send(group, {"type": ..., **fields})` from views,
signals and tasks; with one of these layers as `CHANNEL_LAYERS["default"]` that code keeps
working unchanged for the project's own consumers, and the same call is pushed to every
`ReactChannel` whose `group()` returned `group` and whose `DjangoMessage` the fields (less
`type`) validate as.

The push is made here, in the sending process, once: receivers could not tell two copies of
one `group_send` from two equal sends, and every message must get its one position (`seq`)
on the stream. A message that fits no channel's `DjangoMessage` reaches only the layer's own
members, as before. Unlike `ReactChannel.push`, a `group_send` leaves at once, inside a
transaction too (Channels' semantics).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.layers import InMemoryChannelLayer as _InMemory

from . import broker
from .hub import Event, get_hub, has_hub
from .registry import registry

logger = logging.getLogger("mizan_channels")

__all__ = ["ForwardingMixin", "InMemoryChannelLayer", "forward"]  # and the two Redis layers, lazily


async def forward(group: str, message: dict[str, Any]) -> int:
    """Push `message` to the subscribers of every channel whose group is `group` and whose
    `DjangoMessage` it fits; returns how many channels it was pushed to."""
    fields = {k: v for k, v in message.items() if k != "type"}
    pushed = 0
    for cls in list(registry.channels.values()):
        try:
            body = cls.encode_message(fields)
        except (ValueError, TypeError):  # pydantic's ValidationError is a ValueError
            continue  # not this channel's message
        stream = cls.stream_of(group)
        event = Event("msg", body)
        if has_hub():
            await get_hub().publish(stream, event, cls.history)
        else:
            # A loop of its own (async_to_sync in a worker, a Celery task): a hub here would
            # open Redis connections that outlive the loop. The sync publisher has none.
            await asyncio.to_thread(broker.publish_sync, stream, event, cls.history)
        pushed += 1
    if not pushed:  # a misspelt field, or a message meant for the project's own consumers
        logger.debug("group_send to %r fits no channel's DjangoMessage: not pushed", group)
    return pushed


class ForwardingMixin:
    """`group_send` as the layer makes it, then to the matching `ReactChannel` streams."""

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        try:
            send = super().group_send  # type: ignore[misc]
        except AttributeError:  # channels_redis's pub/sub layer proxies it per event loop
            send = super().__getattr__("group_send")  # type: ignore[misc]
        await send(group, message)
        await forward(group, message)


class InMemoryChannelLayer(ForwardingMixin, _InMemory):
    """Channels' in-memory layer (one process), forwarding `group_send` to channels."""


def __getattr__(name: str) -> Any:
    """The channels_redis layers, defined on first use: channels_redis is an extra."""
    if name == "RedisChannelLayer":
        from channels_redis.core import RedisChannelLayer as base
    elif name == "RedisPubSubChannelLayer":
        from channels_redis.pubsub import RedisPubSubChannelLayer as base
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    layer = type(name, (ForwardingMixin, base), {"__module__": __name__, "__doc__": base.__doc__})
    globals()[name] = layer
    return layer
