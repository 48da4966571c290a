"""A Python client for the socket, on `websockets`: for scripts, bots, tests and benchmarks.

    async with connect("ws://127.0.0.1:8000/ws/mizan/", token=mwt) as c:
        print(await c.call("echo", text="hi"))
        sub = await c.subscribe("chat", room="lobby")
        message = await sub.next()

On channels with presence, `sub.roster` ({user key: {ref: meta}}) is kept current from the
`ok` and the `presence` frames (`sub.on_presence`, `sub.wait_roster`).

Errors arrive as `RemoteError` carrying the protocol's code. With `reconnect=True` (default)
a lost connection is re-established with backoff and jitter, the token re-sent, and every
subscription resumed; each one is then told to refetch (its `on_resync` runs), as are the
invalidation listeners. Imports no Django.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from . import protocol
from .protocol import apply_diff

logger = logging.getLogger("mizan_channels.remote")

Handler = Callable[[dict[str, Any]], Awaitable[None] | None]
Roster = dict[str, dict[str, Any]]  # user key -> connection ref -> that connection's metadata


class RemoteError(Exception):
    """An `err` reply: `code` is the protocol's string (e.g. "invalid_params")."""

    def __init__(self, code: str, message: str = "", details: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details


class ConnectionLost(RemoteError):
    def __init__(self, message: str = "connection lost") -> None:
        super().__init__("connection_lost", message)


class Subscription:
    """A live subscription. Iterate it, or `await next()`, for message payloads."""

    def __init__(self, client: Client, channel: str, params: dict[str, Any]) -> None:
        self.client = client
        self.channel = channel
        self.params = params
        self.id = 0
        self.epoch = ""
        self.seq = 0
        self.messages: asyncio.Queue[Any] = asyncio.Queue()
        self.resyncs = 0
        self.ended: str | None = None
        #: Called (sync or async) when the server says messages may have been missed.
        self.on_resync: Callable[[], Awaitable[None] | None] | None = None
        #: Channels with presence: who is subscribed (docs/presence.md); else None.
        self.roster: Roster | None = None
        #: Called (sync or async) with the roster on each change after `subscribe()` returned.
        self.on_presence: Callable[[Roster], Awaitable[None] | None] | None = None
        self._acked = self._resuming = False
        self._early_seq = 0  # the last position seen before this socket's `ok`
        self._early_presence: list[dict[str, Any]] = []
        self._floor = -1  # the roster is exact up to this position
        self._presence_changed = asyncio.Event()

    async def next(self, timeout: float | None = 10.0) -> Any:
        return await asyncio.wait_for(self.messages.get(), timeout)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[Any]:
        while self.ended is None:
            yield await self.messages.get()

    async def wait_roster(self, done: Callable[[Roster], bool], timeout: float = 10.0) -> Roster:
        """The roster once `done(roster)` holds; TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while self.roster is None or not done(self.roster):
                self._presence_changed.clear()
                await self._presence_changed.wait()
        return self.roster

    def _on_ok(self, data: dict[str, Any], resuming: bool) -> None:
        """This socket's `ok`: positions, then the roster and presence frames that overtook it."""
        self._acked = True
        if not (resuming and data.get("recovered")):
            # Messages may precede the `ok` of a channel with presence: continue after them.
            self.epoch = data.get("epoch", "")
            self.seq = max(data.get("seq", 0), self._early_seq)
        presence = data.get("presence")
        if isinstance(presence, dict):
            self.roster = {}
            apply_diff(self.roster, {"state": presence.get("state") or {}})
            self._floor = presence.get("seq", -1)
            early, self._early_presence = self._early_presence, []
            for frame in early:
                self._apply_presence(frame)
            self._presence_changed.set()

    def _apply_presence(self, frame: dict[str, Any]) -> Roster | None:
        """Apply a `presence` frame; the roster, or None if the frame was in it already."""
        seq = frame.get("seq", 0)
        if "state" in frame:
            self._floor = seq
        elif seq <= self._floor:
            return None
        else:
            self.seq = seq  # positions are shared with messages
        assert self.roster is not None
        apply_diff(self.roster, frame)
        self._presence_changed.set()
        return self.roster

    async def send(self, data: Any) -> Any:
        return await self.client.request({"t": "send", "sub": self.id, "data": data})

    async def close(self) -> None:
        await self.client.unsubscribe(self)


class Client:
    def __init__(
        self,
        url: str | list[str],
        *,
        headers: dict[str, str] | None = None,
        token: str | None = None,
        origin: str | None = None,
        reconnect: bool = True,
        timeout: float = 30.0,
    ) -> None:
        #: Several URLs (e.g. one per server process) are tried in turn when reconnecting.
        self.urls = [url] if isinstance(url, str) else list(url)
        self.url = self.urls[0]
        self.headers = headers or {}
        self.token = token
        # Servers behind Channels' origin check refuse sockets without an Origin; a script
        # is its own page, so it presents the server's own origin unless told otherwise.
        self.fixed_origin = origin
        self.reconnect = reconnect
        self.timeout = timeout
        self.ws: ClientConnection | None = None
        self.hello: dict[str, Any] = {}
        self.subscriptions: dict[int, Subscription] = {}
        self.invalidations: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.on_invalidate: list[Handler] = []
        self.on_resync: list[Handler] = []
        self.frames: list[dict[str, Any]] = []  # every server frame, when record=True
        self.record = False
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._reconnector: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closed = False

    # Connection ------------------------------------------------------------------------

    async def open(self) -> Client:
        await self._open_once()
        return self

    async def _open_once(self) -> None:
        hello: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.ws = await ws_connect(
            self.url,
            additional_headers=self.headers,
            origin=self.fixed_origin or _own_origin(self.url),  # type: ignore[arg-type]
            max_size=None,
            open_timeout=self.timeout,
        )
        self._reader = asyncio.create_task(self._read(self.ws, hello))
        self.hello = await asyncio.wait_for(hello, self.timeout)
        self._connected.set()
        if self.token:
            await self.request({"t": "auth", "token": self.token})

    async def close(self) -> None:
        self._closed = True
        if self.ws is not None:
            await self.ws.close()
        for task in (self._reader, self._reconnector):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    async def __aenter__(self) -> Client:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _read(self, ws: ClientConnection, hello: asyncio.Future[dict[str, Any]]) -> None:
        try:
            async for raw in ws:
                frame = protocol.loads(raw)
                if self.record:
                    self.frames.append(frame)
                await self._dispatch(frame, hello)
        except ConnectionClosed:
            pass
        finally:
            self._connected.clear()
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionLost())
            self._pending.clear()
            if not hello.done():
                hello.set_exception(ConnectionLost("closed before hello"))
            if self.reconnect and not self._closed:
                self._reconnector = asyncio.create_task(self._reconnect())

    async def _dispatch(self, frame: dict[str, Any], hello: asyncio.Future[dict[str, Any]]) -> None:
        t = frame.get("t")
        if t in ("ok", "err", "pong"):
            sub = self.subscriptions.get(frame.get("id"))  # type: ignore[arg-type]
            if t == "ok" and sub is not None and not sub._acked:
                # Before the reply resolves: later frames of this subscription build on it.
                sub._on_ok(frame.get("data") or {}, resuming=sub._resuming)
                if sub.roster is not None and sub.on_presence is not None:  # a resubscription
                    await _maybe_await(sub.on_presence(sub.roster))
            fut = self._pending.pop(frame.get("id"), None)  # type: ignore[arg-type]
            if fut is None or fut.done():
                if t == "err":
                    logger.warning("error without a pending request: %s", frame.get("error"))
                return
            if t == "err":
                e = frame["error"]
                fut.set_exception(RemoteError(e["code"], e.get("message", ""), e.get("details")))
            else:
                fut.set_result(frame.get("data"))
        elif t == "msg":
            sub = self.subscriptions.get(frame["sub"])
            if sub is not None:
                sub.seq = frame.get("seq", sub.seq)
                if not sub._acked:
                    sub._early_seq = max(sub._early_seq, sub.seq)
                sub.messages.put_nowait(frame["data"])
        elif t == "presence":
            sub = self.subscriptions.get(frame["sub"])
            if sub is not None and (not sub._acked or sub.roster is None):
                sub._early_presence.append(frame)
            elif sub is not None and (roster := sub._apply_presence(frame)) is not None:
                await _maybe_await(sub.on_presence(roster) if sub.on_presence else None)
        elif t == "inv":
            self.invalidations.put_nowait(frame)
            for handler in self.on_invalidate:
                await _maybe_await(handler(frame))
        elif t == "resync":
            if "sub" in frame:
                sub = self.subscriptions.get(frame["sub"])
                if sub is not None:
                    sub.resyncs += 1
                    sub.epoch = frame.get("epoch", sub.epoch)
                    sub._floor = -1  # a new epoch's positions; a `state` frame follows
                    if sub.on_resync is not None:
                        await _maybe_await(sub.on_resync())
            for handler in self.on_resync:
                await _maybe_await(handler(frame))
        elif t == "end":
            sub = self.subscriptions.pop(frame["sub"], None)
            if sub is not None:
                sub.ended = frame.get("reason", "ended")
        elif t == "hello" and not hello.done():
            hello.set_result(frame)

    async def _reconnect(self) -> None:
        delay = 0.1
        while not self._closed:
            await asyncio.sleep(delay * (0.5 + random.random()))  # jittered backoff
            delay = min(delay * 2, 5.0)
            self.url = self.urls[(self.urls.index(self.url) + 1) % len(self.urls)]
            try:
                await self._open_once()
            except Exception as exc:
                logger.info("reconnect failed: %s", exc)
                continue
            old = list(self.subscriptions.values())
            self.subscriptions.clear()
            for sub in old:
                try:
                    recovered = await self._subscribe(sub, since=(sub.epoch, sub.seq))
                except RemoteError as exc:
                    sub.ended = exc.code
                    continue
                if not recovered:  # the missed messages can't be replayed: refetch
                    sub.resyncs += 1
                    if sub.on_resync is not None:
                        await _maybe_await(sub.on_resync())
            for handler in self.on_resync:
                await _maybe_await(handler({"t": "resync", "aud": "*", "reconnected": True}))
            return

    async def wait_connected(self, timeout: float = 30.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    # Requests --------------------------------------------------------------------------

    async def request(self, frame: dict[str, Any], timeout: float | None = None) -> Any:
        """Send a frame with a fresh id; return the `ok` data or raise RemoteError."""
        return await self._exchange(next(self._ids), frame, timeout)

    async def _exchange(
        self, frame_id: int, frame: dict[str, Any], timeout: float | None = None
    ) -> Any:
        if self.ws is None:
            raise ConnectionLost("not connected")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[frame_id] = fut
        try:
            try:
                await self.ws.send(protocol.dumps({**frame, "id": frame_id}).decode())
            except ConnectionClosed:
                raise ConnectionLost() from None
            return await asyncio.wait_for(fut, timeout or self.timeout)
        finally:
            self._pending.pop(frame_id, None)

    async def call(self, fn: str, /, **args: Any) -> Any:
        return await self.request({"t": "call", "fn": fn, "args": args})

    async def ping(self) -> None:
        await self.request({"t": "ping"})

    async def authenticate(self, token: str) -> None:
        self.token = token
        await self.request({"t": "auth", "token": token})

    async def subscribe(self, channel: str, /, **params: Any) -> Subscription:
        sub = Subscription(self, channel, params)
        await self._subscribe(sub)
        return sub

    async def _subscribe(self, sub: Subscription, since: tuple[str, int] | None = None) -> bool:
        """(Re)subscribe; True when the server replayed everything missed since `since`."""
        frame: dict[str, Any] = {"t": "sub", "ch": sub.channel, "params": sub.params}
        if since is not None and since[0]:
            frame["since"] = {"epoch": since[0], "seq": since[1]}
        frame_id = next(self._ids)
        sub.id = frame_id
        sub._acked, sub._early_seq, sub._early_presence = False, 0, []
        sub._resuming = "since" in frame
        self.subscriptions[frame_id] = sub  # before the reply: msg frames may follow at once
        try:
            data = await self._exchange(frame_id, frame)
        except BaseException:
            self.subscriptions.pop(frame_id, None)
            raise
        return bool(data.get("recovered"))

    async def unsubscribe(self, sub: Subscription) -> None:
        await self.request({"t": "unsub", "sub": sub.id})
        self.subscriptions.pop(sub.id, None)
        sub.ended = "unsubscribed"


#: `async with connect(url, headers=..., token=...) as c:` (or `await connect(...).open()`).
connect = Client


async def _maybe_await(value: Awaitable[None] | None) -> None:
    if value is not None:
        await value


def _own_origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    return ("https" if scheme == "wss" else "http") + "://" + host
