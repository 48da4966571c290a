"""Process-local fan-out with positions: one membership per (process, stream), never per socket.

Sockets register as listeners of streams here; the broker (in-process or Redis) sees only
the process. An event arrives once per process, is checked for continuity once (epoch and
`seq`), and is handed to each local listener as already-encoded bytes, so serialization
happens once per process (scale.md, rules 1 and 2).

A stream's history is identified by an `epoch`; within one, `seq` grows by exactly 1 per
event. A gap or a new epoch means something may have been lost: every listener of that
stream is told to resync before the event is delivered.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .broker import Backend

logger = logging.getLogger("mizan_channels")


@dataclass(frozen=True, slots=True)
class Event:
    """What travels on a stream: `kind` is "msg" (a channel push) or "inv" (invalidation
    keys), "pres" (presence), "rst" (a new epoch) or "ctl" (`CONTROL`); `body` is its JSON,
    encoded once by the publisher; `origin` is the publishing socket's connection id, if any."""

    kind: str
    body: bytes
    origin: str = ""

    def encode(self) -> bytes:
        return f"{self.kind}|{self.origin}|".encode() + self.body

    @classmethod
    def decode(cls, raw: bytes) -> Event:
        kind, origin, body = raw.split(b"|", 2)
        return cls(kind.decode(), body, origin.decode())


#: A control event (identity.py: sign-in, sign-out, credential recheck) is for the server's
#: sockets, never shown to clients, so it takes no position: a `seq` it used up would reach the
#: client as a gap in the stream's `inv` frames (protocol.md: `seq` grows by exactly 1).
CONTROL = "ctl"


class Listener(Protocol):
    def on_event(self, stream: str, epoch: str, seq: int, event: Event) -> None:
        """Called on the hub's loop; must not block (queue, don't send)."""

    def on_resync(self, stream: str, epoch: str, seq: int) -> None:
        """Continuity of `stream` was lost; the listener's client must refetch. Positions
        continue after (epoch, seq)."""

    def on_control(self, stream: str, event: Event) -> None:
        """A `CONTROL` event (no position) on `stream`; must not block."""


@dataclass(slots=True)
class StreamState:
    epoch: str = ""
    seq: int = 0
    listeners: set[Listener] = field(default_factory=set)
    ready: asyncio.Future[None] | None = None


class Hub:
    """Streams with local listeners, for one event loop (one per daphne process)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, backend: Backend) -> None:
        self.loop = loop
        self.backend = backend
        self.streams: dict[str, StreamState] = {}

    async def join(self, stream: str, listener: Listener) -> tuple[str, int]:
        """Add a listener; the first one makes the process a member of the stream. Returns
        the stream's current (epoch, seq): events up to `seq` happened before joining."""
        state = self.streams.get(stream)
        if state is None:
            state = self.streams[stream] = StreamState(ready=self.loop.create_future())
            try:
                state.epoch, state.seq = await self.backend.subscribe(stream)
            except BaseException as exc:
                self.streams.pop(stream, None)
                assert state.ready is not None
                state.ready.set_exception(exc)
                state.ready.exception()  # mark retrieved: joiners waiting get it raised
                raise
            assert state.ready is not None
            state.ready.set_result(None)
        elif state.ready is not None and not state.ready.done():
            await asyncio.shield(state.ready)
        state.listeners.add(listener)
        return state.epoch, state.seq

    async def leave(self, stream: str, listener: Listener) -> None:
        """Remove a listener; the last one ends the process's membership."""
        state = self.streams.get(stream)
        if state is None:
            return
        state.listeners.discard(listener)
        if not state.listeners and state.ready is not None and state.ready.done():
            del self.streams[stream]
            try:
                await self.backend.unsubscribe(stream)
            except Exception:  # the layer being down must not fail a disconnect
                logger.warning("could not leave stream %s", stream, exc_info=True)

    def position(self, stream: str) -> tuple[str, int] | None:
        state = self.streams.get(stream)
        return (state.epoch, state.seq) if state else None

    def dispatch(self, stream: str, epoch: str, seq: int, event: Event) -> None:
        """Deliver an event from the broker to local listeners, checking continuity."""
        state = self.streams.get(stream)
        if state is None:
            return
        if event.kind == CONTROL:  # unpositioned: no continuity to check
            for listener in list(state.listeners):
                listener.on_control(stream, event)
            return
        if epoch == state.epoch and seq <= state.seq:
            return  # published before this process joined, or a duplicate
        if epoch != state.epoch or seq != state.seq + 1:
            logger.info(
                "stream %s: continuity lost (%s:%d -> %s:%d); resync",
                stream,
                state.epoch,
                state.seq,
                epoch,
                seq,
            )
            state.epoch = epoch
            for listener in list(state.listeners):
                listener.on_resync(stream, epoch, seq - 1)
        state.seq = seq
        for listener in list(state.listeners):
            listener.on_event(stream, epoch, seq, event)

    def continuity_lost(self, positions: dict[str, tuple[str, int]]) -> None:
        """The broker reconnected: events may have been missed on every stream. Take the
        new positions and tell every listener to resync."""
        for stream, state in list(self.streams.items()):
            epoch, seq = positions.get(stream, (state.epoch, state.seq))
            state.epoch, state.seq = epoch, seq
            for listener in list(state.listeners):
                listener.on_resync(stream, epoch, seq)

    async def publish(self, stream: str, event: Event, history: int = 0) -> tuple[str, int]:
        """Publish to every process's listeners of `stream`; returns the assigned position,
        or ("", 0) when the broker was unreachable (degraded mode; see broker)."""
        return await self.backend.publish(stream, event, history)

    async def close(self) -> None:
        await self.backend.close()


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """The hub of the running loop, created on first use. Must be called from async code."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        from .broker import make_backend

        hub = Hub(loop, make_backend())
        hub.backend.attach(hub)
        _hubs[loop] = hub
    return hub


def has_hub() -> bool:
    """Whether the running loop has a hub already (it serves sockets, or published)."""
    return asyncio.get_running_loop() in _hubs


def all_hubs() -> list[Hub]:
    return [h for loop, h in list(_hubs.items()) if not loop.is_closed()]


def reset() -> None:
    """Forget every hub (the broker setting changed; tests)."""
    _hubs.clear()
