"""The mizan-channels side of every scenario: the echo call (async and sync), the fan-out
channel with its publisher, and a shared context with the mutation that invalidates it."""

from __future__ import annotations

from pydantic import BaseModel

from mizan_channels import ReactChannel, client

from .work import FEED_TEXT, EchoOut, aecho_work, echo_work


@client(websocket=True)
async def echo(request, text: str, n: int) -> EchoOut:
    return await aecho_work(text, n)


@client(websocket=True)
def echo_sync(request, text: str, n: int) -> EchoOut:
    return echo_work(text, n)


class FeedChannel(ReactChannel):
    class Params(BaseModel):
        room: str

    class DjangoMessage(BaseModel):
        text: str
        i: int

    def group(self, params):
        return f"feed_{params.room}"


@client(websocket=True)
async def blast(request, room: str, count: int) -> int:
    """Publish `count` messages to the room as fast as the publisher can."""
    for i in range(count):
        await FeedChannel.apush(FeedChannel.DjangoMessage(text=FEED_TEXT, i=i), room=room)
    return count


@client(context="news", shared=True, websocket=True)
def headlines(request) -> int:
    return 1


@client(websocket=True, affects="news")
async def bump(request) -> bool:
    """A mutation of shared data: every connected socket is told to refetch `news`."""
    return True
