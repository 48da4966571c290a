"""The Channels peers: what a Django user writes today for the same jobs.

`HandConsumer` is a hand-written `AsyncJsonWebsocketConsumer` speaking mizan's frame shapes
(so one load generator drives every peer): parse JSON, look up, validate with Pydantic,
reply; groups for fan-out and for invalidation. `DcrfConsumer` and the channels-rpc consumers
are those libraries' documented ways to expose the same echo.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels_rpc import AsyncJsonRpcWebsocketConsumer
from djangochannelsrestframework.decorators import action
from djangochannelsrestframework.generics import AsyncAPIConsumer
from pydantic import BaseModel, ValidationError

from .work import FEED_TEXT, EchoIn, aecho_work, echo_work


class BlastIn(BaseModel):
    room: str
    count: int


class HandConsumer(AsyncJsonWebsocketConsumer):
    """Every socket joins `all` (the invalidation audience), like mizan's sockets do."""

    async def connect(self) -> None:
        self.subs: dict[str, int] = {}
        await self.accept()
        await self.channel_layer.group_add("all", self.channel_name)

    async def disconnect(self, code: int) -> None:
        for group in ["all", *self.subs]:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def reply(self, frame_id: Any, data: Any) -> None:
        await self.send_json({"t": "ok", "id": frame_id, "data": data})

    async def error(self, frame_id: Any, code: str, message: str) -> None:
        await self.send_json(
            {"t": "err", "id": frame_id, "error": {"code": code, "message": message}}
        )

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        frame_id = content.get("id")
        t = content.get("t")
        try:
            if t == "call":
                handler = self.FUNCTIONS.get(content.get("fn"))
                if handler is None:
                    await self.error(frame_id, "unknown_function", "no such function")
                    return
                await self.reply(frame_id, await handler(self, content.get("args") or {}))
            elif t == "sub":
                group = "feed_" + str(content["params"]["room"])
                await self.channel_layer.group_add(group, self.channel_name)
                self.subs[group] = frame_id
                await self.reply(frame_id, {"sub": frame_id})
            else:
                await self.error(frame_id, "bad_frame", "unknown frame type")
        except ValidationError as exc:
            await self.error(frame_id, "invalid_params", str(exc.errors()))

    async def fn_echo(self, args: dict[str, Any]) -> Any:
        a = EchoIn.model_validate(args)
        return (await aecho_work(a.text, a.n)).model_dump()

    async def fn_echo_sync(self, args: dict[str, Any]) -> Any:
        a = EchoIn.model_validate(args)
        return (await database_sync_to_async(echo_work)(a.text, a.n)).model_dump()

    async def fn_blast(self, args: dict[str, Any]) -> Any:
        a = BlastIn.model_validate(args)
        group = "feed_" + a.room
        for i in range(a.count):
            await self.channel_layer.group_send(
                group, {"type": "feed.msg", "group": group, "text": FEED_TEXT, "i": i}
            )
        return a.count

    async def fn_bump(self, args: dict[str, Any]) -> Any:
        await self.channel_layer.group_send("all", {"type": "inv.msg", "keys": [{"ctx": "news"}]})
        return True

    FUNCTIONS = {
        "echo": fn_echo,
        "echo_sync": fn_echo_sync,
        "blast": fn_blast,
        "bump": fn_bump,
    }

    async def feed_msg(self, event: dict[str, Any]) -> None:
        sub = self.subs.get(event["group"])
        await self.send_json(
            {"t": "msg", "sub": sub, "data": {"text": event["text"], "i": event["i"]}}
        )

    async def inv_msg(self, event: dict[str, Any]) -> None:
        await self.send_json({"t": "inv", "keys": event["keys"]})


class DcrfConsumer(AsyncAPIConsumer):
    """djangochannelsrestframework: `{"action", "request_id", ...kwargs}` in,
    `{"data", "response_status", "request_id", ...}` out."""

    @action()
    async def echo(self, text: str, n: int, **kwargs: Any) -> tuple[Any, int]:
        a = EchoIn.model_validate({"text": text, "n": n})
        return (await aecho_work(a.text, a.n)).model_dump(), 200

    @action()
    def echo_sync(self, text: str, n: int, **kwargs: Any) -> tuple[Any, int]:
        a = EchoIn.model_validate({"text": text, "n": n})
        return echo_work(a.text, a.n).model_dump(), 200


class RpcConsumer(AsyncJsonRpcWebsocketConsumer):
    """channels-rpc (JSON-RPC 2.0). It has only an async consumer, and it calls a sync
    method inline on the event loop: no thread hop, but a slow one blocks every socket."""


@RpcConsumer.rpc_method("echo")
async def rpc_echo(text: str, n: int) -> Any:
    a = EchoIn.model_validate({"text": text, "n": n})
    return (await aecho_work(a.text, a.n)).model_dump()


@RpcConsumer.rpc_method("echo_sync")
def rpc_echo_sync(text: str, n: int) -> Any:
    a = EchoIn.model_validate({"text": text, "n": n})
    return echo_work(a.text, a.n).model_dump()
