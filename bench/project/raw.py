"""The ceiling: a bare ASGI WebSocket app doing the same work with nothing in between.

Calls are handled one at a time per socket (cheapest), sync work goes through the default
executor (the least a sync function can cost under asyncio), and fan-out is an in-process
broadcast: a set of sockets per room, one `send` each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import ValidationError

from .work import FEED_TEXT, EchoIn, aecho_work, echo_work

Send = Callable[[dict[str, Any]], Awaitable[None]]

ROOMS: dict[str, dict[Send, int]] = {}
ALL: set[Send] = set()


def frame(value: Any) -> dict[str, Any]:
    return {"type": "websocket.send", "text": orjson.dumps(value).decode()}


async def broadcast(room: str, count: int) -> None:
    members = ROOMS.get(room, {})
    for i in range(count):
        data = orjson.Fragment(orjson.dumps({"text": FEED_TEXT, "i": i}))
        for send, sub in list(members.items()):
            await send(frame({"t": "msg", "sub": sub, "seq": i + 1, "data": data}))


async def handle(text: str | bytes, send: Send) -> None:
    msg = orjson.loads(text)
    fid = msg.get("id")
    t = msg.get("t")
    if t == "sub":
        ROOMS.setdefault(str(msg["params"]["room"]), {})[send] = fid
        await send(frame({"t": "ok", "id": fid, "data": {"sub": fid}}))
        return
    fn = msg.get("fn")
    args = msg.get("args") or {}
    if fn in ("echo", "echo_sync"):
        try:
            a = EchoIn.model_validate(args)
        except ValidationError as exc:
            err = {"code": "invalid_params", "message": str(exc)}
            await send(frame({"t": "err", "id": fid, "error": err}))
            return
        if fn == "echo":
            out = await aecho_work(a.text, a.n)
        else:
            out = await asyncio.get_running_loop().run_in_executor(None, echo_work, a.text, a.n)
        await send(frame({"t": "ok", "id": fid, "data": out.model_dump()}))
    elif fn == "blast":
        await broadcast(str(args["room"]), int(args["count"]))
        await send(frame({"t": "ok", "id": fid, "data": args["count"]}))
    elif fn == "bump":
        body = frame({"t": "inv", "keys": [{"ctx": "news"}]})
        for member in list(ALL):
            await member(body)
        await send(frame({"t": "ok", "id": fid, "data": True}))
    else:
        err = {"code": "unknown_function", "message": "no such function"}
        await send(frame({"t": "err", "id": fid, "error": err}))


async def raw_app(scope: dict[str, Any], receive: Any, send: Send) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    ALL.add(send)
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await handle(message.get("text") or message.get("bytes") or b"", send)
    finally:
        ALL.discard(send)
        for members in ROOMS.values():
            members.pop(send, None)
