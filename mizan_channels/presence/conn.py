"""One socket's presence: its memberships, and the roster view of each of its subscriptions.

The socket (consumers/socket.py) calls in at five points: a subscription starts
(`subscribed`, whose result goes into the `ok`), ends (`dropped`), the socket closes
(`close`), its identity changes (`identity_changed`), and stream events arrive (`on_event`,
`on_resync`).

Every subscription keeps a floor: the stream position its roster is exact at. Diffs at or
below it are already in the roster and are not sent; while a snapshot is being read, diffs
are buffered and the ones after the snapshot's position are folded into it. So a client
that applies, in order, the roster of the `ok` (or of a `state` frame) and then every
`presence` frame, holds the true roster after each frame. A resync of the stream restarts
this: buffer, read a snapshot, send it as a `state` frame.

While Redis is unreachable a subscription still starts (like the broker's, at no known
position): its `ok` carries the members this process knows of, the joiner included, and a
`state` frame with the whole roster follows once Redis answers again. Refusing it instead
would turn every page load during an outage into an error, where delivery's contract is
to degrade and resync; a re-read waits for Redis instead of giving up.

Memberships are per (socket, stream): two subscriptions of one socket to one group count as
one connection.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .. import protocol
from ..broker import unreachable
from . import apply_diff, identify
from .store import Snapshot
from .tracker import Tracker, tracker_for

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from ..hub import Event, Hub

logger = logging.getLogger("mizan_channels")


class Socket(Protocol):
    conn: str
    hub: Hub
    subs: dict[int, Any]
    #: Streams whose queued `resync` still covers later drops (see MizanConsumer._resync).
    resyncing: set[str]

    def _queue(self, frame: bytes, droppable: bool = False) -> None: ...
    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None: ...
    async def _drop_sub(self, sub_id: int) -> None: ...


class Watch:
    """A subscription's view of the roster."""

    __slots__ = ("buffer", "epoch", "floor", "gen", "stream", "sub_id")

    def __init__(self, sub_id: int, stream: str) -> None:
        self.sub_id = sub_id
        self.stream = stream
        self.buffer: list[tuple[str, int, bytes]] | None = []  # not None: a snapshot is due
        self.epoch = ""
        self.floor = 0
        self.gen = 0


@dataclass(slots=True)
class Member:
    ref: str
    key: str
    meta: bytes
    subs: set[int] = field(default_factory=set)


def diff_frame(sub_id: int, seq: int, body: bytes) -> bytes:
    # The diff was encoded once by the writer; each frame splices it in.
    return b'{"t":"presence","sub":%d,"seq":%d,' % (sub_id, seq) + body[1:]


def state_frame(sub_id: int, seq: int, state: dict[str, Any]) -> bytes:
    return protocol.dumps({"t": "presence", "sub": sub_id, "seq": seq, "state": state})


def merge(snapshot: Snapshot, buffer: list[tuple[str, int, bytes]]) -> tuple[dict[str, Any], int]:
    """The snapshot's roster with the buffered diffs that came after it; and its position."""
    state = snapshot.state()
    floor = snapshot.seq
    for epoch, seq, body in buffer:
        if epoch == snapshot.epoch and seq > floor:
            apply_diff(state, protocol.loads(body))
            floor = seq
    return state, floor


class ConnPresence:
    def __init__(self, socket: Socket) -> None:
        self.socket = socket
        self.watches: dict[int, Watch] = {}
        self.by_stream: dict[str, set[int]] = {}
        self.members: dict[str, Member] = {}

    @property
    def tracker(self) -> Tracker:
        return tracker_for(self.socket.hub)

    async def subscribed(self, sub: Any) -> dict[str, Any]:
        """Start presence for a new subscription; returns `{"seq", "state"}` for its `ok`.
        With Redis unreachable, answers with this process's members and sends the roster in
        a `state` frame once it is back. On other failures the subscription is dropped and
        the error raised."""
        stream: str = sub.stream
        tracker = self.tracker
        watch = Watch(sub.id, stream)
        self.watches[sub.id] = watch
        self.by_stream.setdefault(stream, set()).add(sub.id)
        tracker.watch(+1)
        try:
            snapshot = await self._enter(sub, tracker)
        except asyncio.CancelledError:
            raise
        except Exception:
            if sub.id in self.socket.subs:
                await self.socket._drop_sub(sub.id)
            raise
        if snapshot is None:
            if self.watches.get(sub.id) is watch and watch.gen == 0:
                watch.gen += 1
                self.socket._spawn(self._resnap(watch, watch.gen))
            return {"seq": 0, "state": tracker.local(stream).state()}
        if self.watches.get(sub.id) is not watch or watch.gen != 0 or watch.buffer is None:
            # Dropped meanwhile, or a resync started a snapshot of its own (a `state` frame
            # will follow this `ok`).
            return {"seq": snapshot.seq, "state": snapshot.state()}
        state, floor = merge(snapshot, watch.buffer)
        watch.buffer, watch.epoch, watch.floor = None, snapshot.epoch, floor
        return {"seq": floor, "state": state}

    async def _enter(self, sub: Any, tracker: Tracker) -> Snapshot | None:
        """Join (unless hidden or already a member) and read the roster; None when Redis
        is unreachable (the join is written when it returns)."""
        stream = sub.stream
        member = self.members.get(stream)
        if member is None:
            found = await identify(
                sub.channel.presence.spec, sub.instance, sub.params, self.socket.conn
            )
            member = self.members.get(stream)  # another subscription may have joined meanwhile
            if member is None and found is not None and sub.id in self.watches:
                member = self.members[stream] = Member(tracker.new_ref(), *found, {sub.id})
                tracker.announce(stream, member.ref, member.key, member.meta)
        if member is not None:
            member.subs.add(sub.id)
        try:
            return await tracker.snapshot(stream)
        except Exception as exc:
            if tracker.redis is None or not unreachable(exc):
                raise
            logger.warning("presence roster of %s unavailable (%s); sending it later", stream, exc)
            return None

    def dropped(self, sub_id: int) -> None:
        """A subscription ended: its connection leaves the roster with its last one."""
        watch = self.watches.pop(sub_id, None)
        if watch is None:
            return
        stream = watch.stream
        ids = self.by_stream.get(stream)
        if ids is not None:
            ids.discard(sub_id)
            if not ids:
                del self.by_stream[stream]
        tracker = self.tracker
        tracker.watch(-1)
        member = self.members.get(stream)
        if member is not None:
            member.subs.discard(sub_id)
            if not member.subs:
                del self.members[stream]
                tracker.leave(stream, member.ref, member.key)

    def close(self) -> None:
        for sub_id in list(self.watches):
            self.dropped(sub_id)

    async def identity_changed(self) -> None:
        """The socket's user changed: re-identify each membership (leave and join again
        under the new key or metadata; a hook may now hide or show the connection)."""
        tracker = self.tracker
        for stream, ids in list(self.by_stream.items()):
            sub = next((self.socket.subs[i] for i in ids if i in self.socket.subs), None)
            if sub is None:
                continue
            try:
                found = await identify(
                    sub.channel.presence.spec, sub.instance, sub.params, self.socket.conn
                )
            except Exception:
                # Never leave the old identity listed; the connection goes unlisted instead.
                logger.exception("presence_meta failed after an identity change; unlisting")
                found = None
            member = self.members.get(stream)
            if member is not None and found == (member.key, member.meta):
                continue
            live = set(self.by_stream.get(stream, ()))
            if member is not None:
                del self.members[stream]
                tracker.leave(stream, member.ref, member.key)
            if found is not None and live:
                member = self.members[stream] = Member(tracker.new_ref(), *found, live)
                tracker.announce(stream, member.ref, member.key, member.meta)

    # Stream events -----------------------------------------------------------------------

    def on_event(self, stream: str, epoch: str, seq: int, event: Event) -> None:
        for sub_id in self.by_stream.get(stream, ()):
            watch = self.watches[sub_id]
            if watch.buffer is not None:
                watch.buffer.append((epoch, seq, event.body))
            elif epoch != watch.epoch or seq > watch.floor:
                watch.epoch, watch.floor = epoch, seq
                self.socket._queue(diff_frame(sub_id, seq, event.body), True)

    def on_resync(self, stream: str) -> None:
        """The stream lost continuity (or the socket's buffer overflowed): re-read the
        roster and send it whole."""
        for sub_id in self.by_stream.get(stream, ()):
            watch = self.watches[sub_id]
            watch.gen += 1
            watch.buffer = []
            self.socket._spawn(self._resnap(watch, watch.gen))

    async def _resnap(self, watch: Watch, gen: int) -> None:
        # Patient: a re-read that gave up would leave the watch buffering, its diffs unsent.
        snapshot = await self.tracker.snapshot(watch.stream, patient=True)
        if self.watches.get(watch.sub_id) is not watch or watch.gen != gen:
            return
        assert watch.buffer is not None
        state, floor = merge(snapshot, watch.buffer)
        watch.buffer, watch.epoch, watch.floor = None, snapshot.epoch, floor
        self.socket._queue(state_frame(watch.sub_id, floor, state))
        # The roster is whole as of `floor`, after the queued `resync`: a diff dropped from
        # now on is not covered by that `resync` (the client reads it before this state), so
        # the next overflow must resync the stream again.
        self.socket.resyncing.discard(watch.stream)
