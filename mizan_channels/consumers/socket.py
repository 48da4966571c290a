"""The multiplexed socket: one per browser tab, carrying calls, subscriptions and
invalidations.

Thin by design: protocol rules live in `session.Session`, calls in `invoke`, fan-out in
`hub`. This class moves bytes between ASGI, the hub and those. A call to an `async def`
function starts at once, in the task that read it; the first time it waits, that task becomes
the call's and a new task takes over reading (`_inline`). Other requests start as tasks of
their own. So a slow call never delays a `ping` or another call, and a call that never waits
costs no task and no loop turn. Every outbound frame goes through one queue, so an `inv`
queued before an `ok` is sent before it.

It is an ASGI application like a Channels consumer (`as_asgi()`), but it holds no
per-socket channel-layer channel: the process's hub is the socket's only membership
(scale.md, rule 1), and it skips Channels' per-message `close_old_connections` thread hop
(sync work runs through `threads`, which does that itself where a thread has a connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import secrets
import types
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, cast

from channels.sessions import InstanceSessionWrapper
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from .. import auth as auth_rules
from .. import conf, interface, invalidation, protocol
from ..channels import ReactChannel
from ..exceptions import (
    Forbidden,
    InvalidParams,
    MizanError,
    NotExposed,
    NotSubscribed,
    ServerError,
    Unauthorized,
    UnknownChannel,
    validation_details,
)
from ..hub import Event, Hub, get_hub
from ..invoke import invoke
from ..presence.conn import ConnPresence
from ..registry import registry
from ..request import SocketRequest
from ..session import Cursor, Limits, Reject, Session
from ..threads import call_hook
from .identity import IdentityMixin

logger = logging.getLogger("mizan_channels")

ASGIReceive = Callable[[], Awaitable[dict[str, Any]]]
ASGISend = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[dict[str, Any], ASGIReceive, ASGISend], Awaitable[None]]


#: Returned by a handler that queued its own `ok` (a resumed subscription's replay follows it).
REPLIED = object()


class Subscription:
    __slots__ = ("buffer", "channel", "id", "instance", "params", "stream")

    def __init__(
        self,
        sub_id: int,
        channel: type[ReactChannel],
        instance: ReactChannel,
        params: BaseModel,
        stream: str,
    ) -> None:
        self.id = sub_id
        self.channel = channel
        self.instance = instance
        self.params = params
        self.stream = stream
        #: While a resumed subscription replays, its live frames wait here.
        self.buffer: list[bytes] | None = None


def server_send(send: ASGISend) -> ASGISend:
    """The server's own `send` from under Channels' session middleware. Its wrapper acts
    only on `http.response.start` (saving the session, setting the cookie), yet reads the
    session through lazy proxies for every frame it passes on: 3.7% of a busy socket's CPU
    on daphne (bench/profile.py). A WebSocket sets no cookies after its handshake."""
    owner = getattr(send, "__self__", None)
    if isinstance(owner, InstanceSessionWrapper):
        return server_send(cast(ASGISend, owner.real_send))
    return send


class MizanConsumer(IdentityMixin):
    """ASGI app for the multiplexed socket. `only` names the one channel it serves (the
    standalone per-channel endpoint); a name no channel has is refused like any other
    subscription, after `hello`."""

    only: str | None = None
    #: Whether `as_asgi()` ran in this process: the socket is mounted somewhere (W032).
    mounted = False

    @classmethod
    def as_asgi(
        cls, **initkwargs: Any
    ) -> Callable[[dict[str, Any], ASGIReceive, ASGISend], Awaitable[None]]:
        MizanConsumer.mounted = True

        async def app(scope: dict[str, Any], receive: ASGIReceive, send: ASGISend) -> None:
            await cls(**initkwargs)(scope, receive, send)

        app.consumer_class = cls  # type: ignore[attr-defined]
        return app

    def __init__(self, only: str | None = None) -> None:
        if only is not None:
            self.only = only
        s = conf.get()
        self.session = Session(
            Limits(
                max_frame_bytes=s.MAX_FRAME_BYTES,
                rate=s.RATE_LIMIT,
                abuse_strikes=s.RATE_ABUSE_STRIKES,
                max_in_flight=s.MAX_IN_FLIGHT,
                max_subscriptions=s.MAX_SUBSCRIPTIONS,
            )
        )
        self.send_budget = s.SEND_BUFFER_BYTES
        self.conn = secrets.token_hex(8)
        #: Every task of this socket: the reader, requests that waited, hub-started work.
        self.tasks: set[asyncio.Task[None]] = set()
        #: The task reading frames now (see `_inline`).
        self.reader: asyncio.Task[None] | None = None
        self.subs: dict[int, Subscription] = {}
        #: `sub` requests still being answered, set when they are: an `unsub` or `send` that
        #: names one waits for it instead of missing a subscription about to exist.
        self.pending_subs: dict[int, asyncio.Event] = {}
        self.stream_subs: dict[str, set[int]] = {}
        self.audiences: dict[str, str] = {}  # stream -> aud
        self.conn_seq = 0
        #: (frame, droppable, stream whose `resync` this frame completes, or "").
        self.outbox: deque[tuple[bytes, bool, str]] = deque()
        #: Streams whose `resync` is queued and not yet being sent. Pushes of theirs dropped
        #: meanwhile are covered by it (the client refetches after reading it), so an overflow
        #: adds no second one: a client that never reads can't grow the queue one `resync`
        #: per stream per push.
        self.resyncing: set[str] = set()
        self.out_bytes = 0
        self.wake = asyncio.Event()
        self.writing = False
        self.closing: tuple[int, str] | None = None
        #: Set when the socket was authenticated by an MWT rather than its session cookie.
        self.token_hash: str | None = None
        #: The session stream of that token, whose sign-out the socket must follow.
        self.token_session = ""
        self.presence = ConnPresence(self)
        self.hub: Hub

    # ASGI --------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: ASGIReceive, send: ASGISend) -> None:
        self.scope = scope
        self.base_send = server_send(send)
        self.receive = receive
        self.context = contextvars.copy_context()
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        self.request = SocketRequest(scope, self.conn)
        self.hub = get_hub()
        await send({"type": "websocket.accept"})
        writer = asyncio.create_task(self._write(), name=f"mizan-writer-{self.conn}")
        try:
            await self._open()
            self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._start_reader()
            await self.ended
        finally:
            await self._cleanup()
            if self.closing is not None:  # flush what is queued, then the close frame
                self.wake.set()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(writer), 5)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    def _start_reader(self) -> None:
        # `asyncio.Task`, not `loop.create_task`: a loop whose task factory starts tasks
        # eagerly (`asyncio.eager_task_factory`) would run `_read` before `self.reader` names
        # it, inside the step of the call handing reading over. A reader starts on a later
        # loop turn, already named.
        self.reader = asyncio.Task(
            self._read(), loop=asyncio.get_running_loop(), name=f"mizan-reader-{self.conn}"
        )
        self.tasks.add(self.reader)

    async def _read(self) -> None:
        """Read frames until the socket ends or this task is handed a request that waits."""
        me = self.reader
        frames = 0
        try:
            while self.closing is None:
                message = await self.receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    text = message.get("text")
                    if text is not None:
                        request = self._on_frame(text, binary=False)
                    else:
                        request = self._on_frame(message.get("bytes"), binary=True)
                    if request is not None:
                        await _inline(self, request, self.context.copy())
                        if self.reader is not me:
                            return  # the request waited; another task reads now
                    # A queued-up receive returns without suspending: yield now and then,
                    # or one flooding client would hold the event loop until its backlog is
                    # drained (yielding after every frame costs 15% of a call's own CPU).
                    frames += 1
                    if frames % 16 == 0:
                        await asyncio.sleep(0)
                elif kind == "websocket.disconnect":
                    break
        except Exception as exc:
            if self.reader is not me:
                raise
            self.ended.set_exception(exc)  # raised by __call__ to the server, as before
        finally:
            if self.reader is me and not self.ended.done():
                self.ended.set_result(None)
            self.tasks.discard(me)  # type: ignore[arg-type]

    async def _open(self) -> None:
        """Join the audiences, then say hello; frames that arrive meanwhile wait in ASGI's
        receive queue and are handled after."""
        await self._move_audiences(announce=False)
        epochs = {aud: self.session.cursors[stream].epoch for stream, aud in self.audiences.items()}
        if not epochs.keys() & {invalidation.AUD_USER, invalidation.AUD_SESSION}:
            # Anonymous without a session: its own mutations come on `conn`, a stream that
            # lives as long as this socket, so the connection id is its epoch.
            epochs[invalidation.AUD_CONN] = self.conn
        self._queue(protocol.hello(self.conn, epochs, ir=interface.digest()))
        if self.only is not None:
            params = dict(self.request.GET.items())
            self._spawn(self._standalone_sub(params))

    async def _cleanup(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        self.presence.close()
        for stream in list(self.audiences) + list(self.stream_subs):
            await self.hub.leave(stream, self)
        self.audiences.clear()
        self.stream_subs.clear()
        self.subs.clear()

    # Outbound ----------------------------------------------------------------------------

    def _queue(self, frame: bytes, droppable: bool = False, resynced: str = "") -> None:
        """Queue a frame. Replies are never dropped; pushed frames are, when the client
        reads too slowly: then its streams are resynced instead (nothing silently lost)."""
        if droppable and self.out_bytes + len(frame) > self.send_budget:
            self._overflow()
            return
        self.outbox.append((frame, droppable, resynced))
        self.out_bytes += len(frame)
        self.wake.set()

    def _overflow(self) -> None:
        kept = deque(item for item in self.outbox if not item[1])
        self.outbox = kept
        self.out_bytes = sum(len(item[0]) for item in kept)
        streams = [s for s in [*self.audiences, *self.stream_subs] if s not in self.resyncing]
        if streams:
            logger.info("socket %s: send buffer over budget; resyncing its streams", self.conn)
        for stream in streams:
            position = self.hub.position(stream)
            if position is not None:
                self.on_resync(stream, *position)

    async def _drain(self) -> bool:
        """Write every queued frame, in order; False when the client is gone. One drain at
        a time (`writing`): frames queued while it awaits the server are written by it."""
        self.writing = True
        try:
            while self.outbox:
                frame, _, resynced = self.outbox.popleft()
                self.out_bytes -= len(frame)
                if resynced:
                    self.resyncing.discard(resynced)
                await self.base_send({"type": "websocket.send", "text": frame.decode()})
        except Exception:  # the client went away; the receive loop will see it
            return False
        finally:
            self.writing = False
        return True

    async def _write(self) -> None:
        """Writes pushed frames (and replies queued while another drain was running)."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            if self.writing:
                continue  # a reply is draining the queue; it wakes us if a close is due
            if not await self._drain():
                return
            if self.closing is not None:
                code, reason = self.closing
                with contextlib.suppress(Exception):
                    await self.base_send(
                        {"type": "websocket.close", "code": code, "reason": reason}
                    )
                return

    async def _send_reply(self, frame: bytes) -> None:
        """Queue a reply and, when no drain is running, write the queue from this task: a
        call's `ok` leaves without waking the writer task (one task switch less per call),
        and before fan-out work that its own mutation scheduled on the loop."""
        if not (self.outbox or self.writing or self.closing is not None):
            # Nothing queued ahead of it: straight to the server, as _drain would.
            self.writing = True
            try:
                await self.base_send({"type": "websocket.send", "text": frame.decode()})
            except Exception:  # the client went away; the reader will see it
                return
            finally:
                self.writing = False
            if self.outbox or self.closing is not None:  # queued meanwhile: the writer's
                self.wake.set()
            return
        self.outbox.append((frame, False, ""))
        self.out_bytes += len(frame)
        if self.writing or self.closing is not None:
            self.wake.set()
            return
        await self._drain()
        if self.closing is not None:
            self.wake.set()

    def _close(self, code: int, reason: str) -> None:
        self.closing = (code, reason)
        self.wake.set()

    # Inbound -----------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` as a task of this socket. Tasks run in the socket's own context, never
        in the context of whatever code triggered them (a publisher inside sync_to_async
        would lend them its executor)."""
        task = asyncio.get_running_loop().create_task(coro, context=self.context.copy())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _on_frame(
        self, data: str | bytes | None, *, binary: bool
    ) -> Coroutine[Any, Any, None] | None:
        """Answer what needs no handler at once; return a call to an `async def` function,
        for the reader to run in its own task (`_inline`); start anything else as a task.

        Calls to `async def` functions often answer without waiting. The rest always wait (a
        `def` function's thread hop, a subscription's hooks): started as tasks, a burst of
        them is read in one loop turn and their threads' completions share loop wake-ups,
        where handing the reader over at each one's wait would read one frame per turn."""
        frame = self.session.receive(data, binary=binary)
        if isinstance(frame, Reject):
            self._queue(frame.frame)
            if frame.close is not None:
                self._close(*frame.close)
            return None
        if isinstance(frame, protocol.Ping):
            self._queue(protocol.pong(frame.id))
            self.session.done(frame)
            return None
        request = self._reply(frame, HANDLERS[type(frame)])
        if type(frame) is protocol.Call:
            spec = registry.function(frame.fn)
            if spec is None or spec.is_async:  # unknown: answered at once, inline too
                return request
        self._spawn(request)
        return None

    async def _reply(
        self, frame: Any, handler: Callable[[MizanConsumer, Any], Awaitable[Any]]
    ) -> None:
        reply: bytes | None
        try:
            data = await handler(self, frame)
            reply = None if data is REPLIED else protocol.ok(frame.id, data)
        except MizanError as exc:
            reply = protocol.err(frame.id, exc.payload())
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise  # the socket is closing
            # Raised by the handler's own code (it awaited something cancelled), not sent to
            # this task: a failed request, like any other exception. Re-raised, it would
            # leave the request unanswered, and end the reading task it may be running in.
            logger.exception("socket %s: %s failed", self.conn, type(frame).__name__)
            reply = protocol.err(frame.id, ServerError().payload())
        except Exception:
            logger.exception("socket %s: %s failed", self.conn, type(frame).__name__)
            reply = protocol.err(frame.id, ServerError().payload())
        finally:
            self.session.done(frame)
        if reply is not None:
            await self._send_reply(reply)

    async def _call(self, frame: protocol.Call) -> Any:
        outcome = await invoke(frame.fn, frame.args, self.request, transport="websocket")
        for aud, epoch, seq, keys in outcome.published:
            self._deliver_own_inv(aud, epoch, seq, keys)
        return protocol.Fragment(outcome.data)

    def _deliver_own_inv(self, aud: str, epoch: str, seq: int, keys: list[dict[str, str]]) -> None:
        """The caller hears of its own mutation directly, before `ok`; the fanned-out copy
        is recognised by its position and dropped."""
        if aud == invalidation.AUD_CONN:
            self.conn_seq += 1
            self._queue(protocol.inv(aud, self.conn_seq, keys))
            return
        if not epoch:  # degraded mode: not published; only this socket hears of it now
            self._queue(protocol.inv(aud, None, keys))
            return
        stream = next((s for s, a in self.audiences.items() if a == aud), None)
        if stream is None or self.session.accept(stream, epoch, seq):
            self._queue(protocol.inv(aud, seq, keys))

    # Subscriptions -----------------------------------------------------------------------

    def _channel(self, name: str) -> type[ReactChannel]:
        cls = registry.channels.get(name)
        if cls is None:
            raise UnknownChannel(f"No channel named {name[:100]!r}.")
        if self.only is not None and name != self.only:
            raise NotExposed(f"This socket serves only channel {self.only!r}.")
        return cls

    async def _authorize(self, instance: ReactChannel, params: BaseModel) -> None:
        try:
            allowed = await call_hook(instance.authorize, params)
        except MizanError:
            raise
        except Exception:
            logger.warning("authorize of %s raised; refusing", instance.name, exc_info=True)
            allowed = False
        if not allowed:
            if auth_rules.is_authenticated(self.request.user):
                raise Forbidden()
            raise Unauthorized()

    async def _sub(self, frame: protocol.Sub) -> Any:
        settled = self.pending_subs[frame.id] = asyncio.Event()
        try:
            return await self._subscribe(frame)
        finally:
            del self.pending_subs[frame.id]
            settled.set()

    async def _held(self, sub_id: int) -> Subscription:
        """The subscription `sub_id`, once its `sub` (if still in flight) is answered: a client
        may pipeline `sub` and `unsub` (a component mounted and unmounted at once), and an
        `unsub` answered `not_subscribed` then would leave the subscription held for good.
        Raises NotSubscribed when there is none."""
        settled = self.pending_subs.get(sub_id)
        if settled is not None:
            await settled.wait()
        sub = self.subs.get(sub_id)
        if sub is None:
            raise NotSubscribed()
        return sub

    async def _subscribe(self, frame: protocol.Sub) -> Any:
        cls = self._channel(frame.ch)
        params = cls.parse_params(frame.params)
        instance = cls(self.request)
        await self._authorize(instance, params)
        stream = cls.stream_for(params, self.request)
        epoch, seq = await self.hub.join(stream, self)
        self.session.cursor(stream, epoch, seq)
        sub = Subscription(frame.id, cls, instance, params, stream)
        self.subs[frame.id] = sub
        self.stream_subs.setdefault(stream, set()).add(frame.id)
        self.session.subscriptions.add(frame.id)
        data = {"sub": frame.id, "epoch": epoch, "seq": seq, "recovered": False}
        if frame.since is None or not cls.history:
            if cls.presence:
                data["presence"] = await self.presence.subscribed(sub)
            return data
        # Resuming: live events wait in a buffer while the missed ones are fetched, so the
        # client sees ok, then the replay, then live events, all in seq order.
        sub.buffer = []
        try:
            since_epoch, since_seq = frame.since
            missed = None
            if since_epoch == epoch and since_seq <= seq:
                missed = await self.hub.backend.replay(stream, epoch, since_seq, seq)
        except Exception:
            logger.warning("replay of %s failed", stream, exc_info=True)
            missed = None
        data["recovered"] = missed is not None
        if cls.presence:
            data["presence"] = await self.presence.subscribed(sub)
        self._queue(protocol.ok(frame.id, data))
        for missed_seq, body in missed or ():
            self._queue(protocol.msg(frame.id, missed_seq, protocol.Fragment(body)))
        buffered, sub.buffer = sub.buffer, None
        for item in buffered:
            self._queue(item, True)
        return REPLIED

    async def _drop_sub(self, sub_id: int) -> None:
        sub = self.subs.pop(sub_id)
        self.session.subscriptions.discard(sub_id)
        self.presence.dropped(sub_id)
        ids = self.stream_subs.get(sub.stream)
        if ids is not None:
            ids.discard(sub_id)
            if not ids:
                del self.stream_subs[sub.stream]
                self.session.cursors.pop(sub.stream, None)
                await self.hub.leave(sub.stream, self)

    async def _unsub(self, frame: protocol.Unsub) -> None:
        await self._held(frame.sub)
        await self._drop_sub(frame.sub)

    async def _send(self, frame: protocol.Send) -> Any:
        sub = await self._held(frame.sub)
        model = sub.channel.ReactMessage
        if model is None:
            raise NotExposed(f"Channel {sub.channel.name!r} accepts no client messages.")
        try:
            message = model.model_validate(frame.data)
        except PydanticValidationError as exc:
            raise InvalidParams(details=validation_details(exc.errors())) from None
        result = await call_hook(sub.instance.receive, sub.params, message)
        if isinstance(result, BaseModel):
            return protocol.Fragment(result.model_dump_json().encode())
        return result

    async def _standalone_sub(self, params: dict[str, Any]) -> None:
        """Per-channel endpoint: subscription 0 from the query string, or close."""
        assert self.only is not None
        frame = protocol.Sub(0, self.only, params, None)
        self.session.in_flight.add(0)
        try:
            data = await self._sub(frame)
            self._queue(protocol.ok(0, data))
        except MizanError as exc:
            self._queue(protocol.err(0, exc.payload()))
            self._close(4000 + exc.status, exc.code.value)
        finally:
            self.session.in_flight.discard(0)

    # Hub listener ------------------------------------------------------------------------

    def on_event(self, stream: str, epoch: str, seq: int, event: Event) -> None:
        if not self.session.accept(stream, epoch, seq):
            return
        if event.kind == "inv":
            aud = self.audiences.get(stream)
            if aud is not None:
                self._queue(protocol.inv(aud, seq, protocol.Fragment(event.body)), True)  # type: ignore[arg-type]
            return
        if event.kind == "pres":
            self.presence.on_event(stream, epoch, seq, event)
            return
        if event.kind != "msg":
            return  # "rst": a new epoch; on_resync already told the client
        data = protocol.Fragment(event.body)
        for sub_id in self.stream_subs.get(stream, ()):
            frame = protocol.msg(sub_id, seq, data)
            buffer = self.subs[sub_id].buffer
            if buffer is not None:
                buffer.append(frame)
            else:
                self._queue(frame, True)

    def on_control(self, stream: str, event: Event) -> None:
        if stream in self.audiences:
            self._spawn(self._control(event.body))

    def on_resync(self, stream: str, epoch: str, seq: int) -> None:
        self.session.cursors[stream] = Cursor(epoch, seq)  # the new position, replacing any
        self._resync(stream, epoch)
        self.presence.on_resync(stream)

    def _resync(self, stream: str, epoch: str) -> None:
        frames = [protocol.resync_sub(sub_id, epoch) for sub_id in self.stream_subs.get(stream, ())]
        aud = self.audiences.get(stream)
        if aud is not None:
            frames.insert(0, protocol.resync_aud(aud, epoch))
        if not frames:
            return
        for frame in frames[:-1]:
            self._queue(frame)
        self._queue(frames[-1], resynced=stream)  # sending it ends `resyncing` for the stream
        self.resyncing.add(stream)


@types.coroutine
def _inline(
    socket: MizanConsumer, coro: Coroutine[Any, Any, None], context: contextvars.Context
) -> Generator[Any, Any, None]:
    """Run a request in the reader's own task, each step in the request's `context`, as a
    task would. At the request's first wait, a new reader starts and this task is the
    request's from then on: what the request binds to its task (a timeout, a task group)
    binds to a task that runs nothing else. A request that never waits (an `async def`
    answered from memory) is answered before the next frame is read, and costs neither a
    task nor a loop turn: at one socket, the task it used to take was a fifth of a call's
    instructions in-process (docs/performance.md)."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            if error is None:
                waiting = context.run(coro.send, value)
            else:
                waiting = context.run(coro.throw, error)
        except StopIteration:
            return
        if socket.reader is asyncio.current_task():  # the first wait: hand reading over
            socket._start_reader()
        try:
            value, error = (yield waiting), None
        except GeneratorExit:
            context.run(coro.close)  # its `finally` blocks see the call's context
            raise
        except BaseException as exc:  # cancellation included: it is the request's
            value, error = None, exc


#: Request frames and the coroutine that answers each (one table, built once).
HANDLERS: dict[type, Callable[[MizanConsumer, Any], Awaitable[Any]]] = {
    protocol.Call: MizanConsumer._call,
    protocol.Sub: MizanConsumer._sub,
    protocol.Unsub: MizanConsumer._unsub,
    protocol.Send: MizanConsumer._send,
    protocol.Auth: MizanConsumer._auth,
}
