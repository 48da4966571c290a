"""Helpers for testing your functions and channels in-process, without a server.

    from mizan_channels.testing import MizanCommunicator

    @pytest.mark.django_db(transaction=True)
    async def test_chat(django_user_model):
        ann = await django_user_model.objects.acreate(username="ann")
        async with MizanCommunicator(user=ann) as c:
            sub = await c.subscribe("chat", room="lobby")
            await c.call("post_message", room="lobby", text="hi")
            assert (await c.assert_pushed(sub))["text"] == "hi"
            await c.assert_invalidated({"ctx": "rooms"})

Database: sync server functions run in worker threads, which have their own database
connections. pytest-django's plain `db` fixture keeps test data inside a transaction those
threads can't see, so use `transactional_db` (or `django_db(transaction=True)`), as for any
Channels test that touches the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from . import protocol
from .exceptions import ErrorCode, MizanError

DEFAULT_TIMEOUT = 5.0


def _session_cookie(user: Any) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


class MizanCommunicator(WebsocketCommunicator):  # type: ignore[misc]
    """A WebsocketCommunicator that speaks the mizan protocol.

    `user=` logs the socket in through a real session cookie (what a browser does);
    `application` defaults to `ASGI_APPLICATION` from settings.
    """

    def __init__(
        self,
        application: Any = None,
        path: str | None = None,
        *,
        user: Any = None,
        origin: str = "http://localhost",
        host: str = "localhost",
        headers: list[tuple[bytes, bytes]] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if application is None:
            from django.utils.module_loading import import_string

            application = import_string(settings.ASGI_APPLICATION)
        from . import conf

        self._user = user
        self._extra_headers = [(b"origin", origin.encode()), (b"host", host.encode())]
        self._extra_headers += headers or []
        self.timeout = timeout
        self.hello: dict[str, Any] = {}
        self._ids = 1_000_000  # clear of ids a test writes into raw frames
        self._backlog: list[dict[str, Any]] = []
        self._read_lock = asyncio.Lock()
        super().__init__(application, path or conf.get().WS_PATH, headers=self._extra_headers)

    async def connect(self, timeout: float | None = None) -> Any:
        """Open the socket and wait for `hello`. Raises AssertionError if it was refused."""
        if self._user is not None:
            cookie = await sync_to_async(_session_cookie)(self._user)
            headers = list(self.scope.get("headers") or [])
            self.scope["headers"] = [*headers, (b"cookie", cookie.encode())]
        connected, code = await super().connect(timeout or self.timeout)
        assert connected, f"socket refused (close code {code})"
        self.hello = await self.next_frame(lambda f: f["t"] == "hello")
        return self.hello

    async def __aenter__(self) -> MizanCommunicator:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    # Frames ------------------------------------------------------------------------------

    async def next_frame(
        self, match: Callable[[dict[str, Any]], bool] | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """The next frame that `match` accepts; frames read meanwhile are kept for later.
        Safe to await from several tasks at once (one reads, the others look in the backlog)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (timeout or self.timeout)
        while True:
            for i, frame in enumerate(self._backlog):
                if match is None or match(frame):
                    return self._backlog.pop(i)
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no matching frame within the timeout; got {self._backlog}")
            async with self._read_lock:
                if any(match is None or match(f) for f in self._backlog):
                    continue
                text = await self._receive_text(left)
                if text is not None:
                    self._backlog.append(protocol.loads(text))

    async def _receive_text(self, timeout: float) -> str | None:
        """The next text frame, or None after `timeout`. Not `receive_from`: asgiref's
        `receive_output` cancels the application when its timeout passes, so a test that
        waited in vain would lose its socket and end in TimeoutError and then CancelledError
        at disconnect, never saying what it waited for."""
        if self.output_queue.empty():
            # Whichever comes first: a frame, the application ending (its own exception, at
            # once, not after the timeout), or the timeout.
            get = asyncio.ensure_future(self.output_queue.get())
            try:
                await asyncio.wait(
                    {get, self.future}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                if not get.done():
                    get.cancel()
            if not get.done() or get.cancelled():
                if self.future.done():
                    self.future.result()
                    raise AssertionError("the application ended without closing the socket")
                return None
            message = get.result()
        else:
            message = self.output_queue.get_nowait()
        if message["type"] == "websocket.close":
            raise AssertionError(f"the socket closed (code {message.get('code')})")
        assert message["type"] == "websocket.send" and isinstance(message.get("text"), str), (
            f"expected a text frame, got {message!r}"
        )
        return str(message["text"])

    async def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Send `frame` with a fresh id; return the reply frame (`ok`, `err` or `pong`)."""
        self._ids += 1
        frame_id = self._ids
        await self.send_to(text_data=protocol.dumps({**frame, "id": frame_id}).decode())
        return await self.next_frame(
            lambda f: f["t"] in ("ok", "err", "pong") and f.get("id") == frame_id
        )

    @staticmethod
    def _result(reply: dict[str, Any]) -> Any:
        if reply["t"] == "err":
            e = reply["error"]
            raise MizanError(e["message"], code=ErrorCode(e["code"]), details=e.get("details"))
        return reply.get("data")

    async def call(self, fn: str, /, **args: Any) -> Any:
        """Call `fn`; return its data, or raise MizanError with the protocol code."""
        return self._result(await self.request({"t": "call", "fn": fn, "args": args}))

    async def subscribe(self, channel: str, /, **params: Any) -> int:
        """Subscribe; return the subscription id. Raises MizanError when refused."""
        data = self._result(await self.request({"t": "sub", "ch": channel, "params": params}))
        return int(data["sub"])

    async def unsubscribe(self, sub: int) -> None:
        self._result(await self.request({"t": "unsub", "sub": sub}))

    async def send_message(self, sub: int, data: Any) -> Any:
        return self._result(await self.request({"t": "send", "sub": sub, "data": data}))

    # Assertions --------------------------------------------------------------------------

    async def assert_pushed(self, sub: int, expected: Any = None) -> Any:
        """Wait for a `msg` on `sub`; check it equals `expected` when given; return its data."""
        frame = await self.next_frame(lambda f: f["t"] == "msg" and f["sub"] == sub)
        if expected is not None:
            assert frame["data"] == expected, f"pushed {frame['data']!r}, expected {expected!r}"
        return frame["data"]

    async def assert_invalidated(self, *keys: dict[str, str]) -> list[dict[str, str]]:
        """Wait until every key in `keys` has arrived in `inv` frames; return all keys seen."""
        wanted = list(keys)
        seen: list[dict[str, str]] = []
        while wanted:
            frame = await self.next_frame(lambda f: f["t"] == "inv")
            seen.extend(frame["keys"])
            wanted = [k for k in wanted if k not in seen]
        return seen

    async def assert_nothing(self, timeout: float = 0.1) -> None:
        """Assert no frame arrives within `timeout` (a bounded wait for an absence)."""
        assert not self._backlog, f"unexpected frames: {self._backlog}"
        assert await self.receive_nothing(timeout), "a frame arrived"
