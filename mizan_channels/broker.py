"""Brokers carry stream events between processes and assign their positions.

- `LocalBackend`: one process (the in-memory channel layer's world). Positions come from an
  in-process counter; the epoch is fixed for the life of the process.
- `RedisBackend`: many processes. One Lua script per event creates the stream's epoch if it
  is missing, increments its `seq` and publishes, in one round trip, so publish order equals
  `seq` order. Each process holds one Redis pub/sub subscription per stream it has listeners
  for; Redis never sees a socket. A reader task drains Redis apart from the fan-out, and
  after a lost connection the process resubscribes everything in one command and tells its
  listeners to resync. A stream joined while Redis is down is held locally and subscribed
  (with a resync) when Redis returns: an outage degrades delivery, it never refuses a socket.

The backend is chosen by `MIZAN_REDIS_URL`, or the host of a channels_redis layer (or of a
subclass, such as `mizan_channels.layers`') in `CHANNEL_LAYERS`; otherwise local.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import secrets
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings

from . import conf
from .hub import CONTROL, Event, all_hubs

if TYPE_CHECKING:
    from .hub import Hub

logger = logging.getLogger("mizan_channels")

KEY_PREFIX = "mizan:"
#: A stream's position key lives this long after its last event or subscription.
POSITION_TTL = 7 * 24 * 3600
#: Seconds without a message before the subscriber pings Redis to detect a dead connection.
IDLE_PING = 5.0
#: Connections per process (per event loop, and per Redis URL for sync publishers) for
#: commands. A blocking pool: past it a command waits (up to POOL_WAIT s) for a connection
#: instead of failing. redis-py's default pool raises `MaxConnectionsError` past 100, which
#: lost every event but the first hundred of a burst of publishes from one process (1,000
#: sockets each making a call at once; scale.md's pitfall of the 100-connection pool).
POOL_SIZE = 50
POOL_WAIT = 5.0
#: Stream positions read per pipelined round trip when recovering.
POSITION_BATCH = 1_000

# KEYS: position hash, history stream. ARGV: fresh epoch, pub/sub channel, payload, ttl,
# history length (0: none), "1" to start a new epoch (continuity was lost).
PUBLISH_LUA = """
local e = redis.call('HGET', KEYS[1], 'epoch')
if (not e) or ARGV[6] == '1' then
  e = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', e, 'seq', 0)
  redis.call('DEL', KEYS[2])
end
local s = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('EXPIRE', KEYS[1], ARGV[4])
local n = tonumber(ARGV[5])
if n > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', n, s .. '-1', 'd', ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
redis.call('PUBLISH', ARGV[2], e .. '|' .. s .. '|' .. ARGV[3])
return {e, s}
"""

POSITION_LUA = """
local e = redis.call('HGET', KEYS[1], 'epoch')
if not e then
  e = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', e, 'seq', 0)
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {e, tonumber(redis.call('HGET', KEYS[1], 'seq'))}
"""


def new_epoch() -> str:
    return secrets.token_hex(6)


class Backend(Protocol):
    def attach(self, hub: Hub) -> None: ...
    async def subscribe(self, stream: str) -> tuple[str, int]: ...
    async def unsubscribe(self, stream: str) -> None: ...
    async def publish(self, stream: str, event: Event, history: int = 0) -> tuple[str, int]: ...
    async def replay(
        self, stream: str, epoch: str, after: int, upto: int
    ) -> list[tuple[int, bytes]] | None: ...
    async def close(self) -> None: ...


#: Streams whose last publish failed: their next event starts a new epoch, so listeners
#: that missed the lost one resync instead of carrying on without a gap to notice.
_dirty: set[str] = set()
_dirty_lock = threading.Lock()


def mark_dirty(stream: str) -> None:
    with _dirty_lock:
        _dirty.add(stream)


def take_dirty(stream: str) -> bool:
    with _dirty_lock:
        if stream in _dirty:
            _dirty.discard(stream)
            return True
        return False


def dirty_streams() -> list[str]:
    with _dirty_lock:
        return sorted(_dirty)


def redis_url() -> str:
    """The Redis used for fan-out, or "" for in-process only."""
    url = conf.get().REDIS_URL
    if url:
        return url
    layer = getattr(settings, "CHANNEL_LAYERS", {}).get("default", {})
    if is_channels_redis(str(layer.get("BACKEND", ""))):
        hosts = layer.get("CONFIG", {}).get("hosts") or ["redis://127.0.0.1:6379"]
        host = hosts[0]
        if isinstance(host, dict):
            host = host.get("address", "redis://127.0.0.1:6379")
        if isinstance(host, list | tuple):
            host = f"redis://{host[0]}:{host[1]}"
        return str(host)
    return ""


@functools.lru_cache(maxsize=8)
def layer_class(backend: str) -> type | None:
    """The class a `CHANNEL_LAYERS` BACKEND path names; None when it doesn't import (that is
    Channels' error to report, not ours)."""
    from django.utils.module_loading import import_string

    try:
        cls = import_string(backend)
    except ImportError:
        return None
    return cls if isinstance(cls, type) else None


def is_channels_redis(backend: str) -> bool:
    """Whether the layer `backend` names is channels_redis's or a subclass of one: mizan's
    own (`mizan_channels.layers.RedisPubSubChannelLayer`, whose dotted path doesn't say
    channels_redis) and a project's own."""
    if "channels_redis" in backend:
        return True
    cls = layer_class(backend)
    return cls is not None and any(
        c.__module__.split(".")[0] == "channels_redis" for c in cls.__mro__
    )


def make_backend() -> Backend:
    url = redis_url()
    if url:
        return RedisBackend(url)
    return LOCAL


def _schedule(
    running: asyncio.AbstractEventLoop | None, stream: str, epoch: str, seq: int, event: Event
) -> None:
    """Hand an event to every hub of the process. Delivery is scheduled, never done inside
    the publisher's call: a mutation's reply must not wait for the fan-out to every socket."""
    for hub in all_hubs():
        if hub.loop is running:
            hub.loop.call_soon(
                hub.dispatch, stream, epoch, seq, event, context=contextvars.Context()
            )
        else:
            with contextlib.suppress(RuntimeError):  # loop closed meanwhile
                hub.loop.call_soon_threadsafe(
                    hub.dispatch,
                    stream,
                    epoch,
                    seq,
                    event,
                    context=contextvars.Context(),  # not the publishing thread's
                )


class LocalBackend:
    """In-process streams. Shared by every hub (event loop) of the process."""

    def __init__(self) -> None:
        self.epoch = new_epoch()
        self.seqs: dict[str, int] = {}
        self.history: dict[str, deque[tuple[int, bytes]]] = {}
        self.lock = threading.Lock()

    def attach(self, hub: Hub) -> None:
        pass

    async def subscribe(self, stream: str) -> tuple[str, int]:
        with self.lock:
            return self.epoch, self.seqs.get(stream, 0)

    async def unsubscribe(self, stream: str) -> None:
        pass

    def _deliver(self, stream: str, event: Event, history: int) -> tuple[str, int]:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        # Assign and schedule under one lock so delivery order is seq order across threads.
        with self.lock:
            seq = self.seqs.get(stream, 0) + 1
            self.seqs[stream] = seq
            if history:
                kept = self.history.get(stream)
                if kept is None or kept.maxlen != history:
                    kept = self.history[stream] = deque(kept or (), maxlen=history)
                kept.append((seq, event.body))
            _schedule(running, stream, self.epoch, seq, event)
        return self.epoch, seq

    def publish_control(self, stream: str, event: Event) -> None:
        """A `CONTROL` event: delivered like the others, in order, but taking no position."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        with self.lock:
            _schedule(running, stream, "", 0, event)

    async def publish(self, stream: str, event: Event, history: int = 0) -> tuple[str, int]:
        return self._deliver(stream, event, history)

    def publish_sync(self, stream: str, event: Event, history: int = 0) -> tuple[str, int]:
        return self._deliver(stream, event, history)

    async def replay(
        self, stream: str, epoch: str, after: int, upto: int
    ) -> list[tuple[int, bytes]] | None:
        with self.lock:
            if epoch != self.epoch:
                return None
            entries = [e for e in self.history.get(stream, ()) if after < e[0] <= upto]
        return entries if _complete(entries, after, upto) else None

    async def close(self) -> None:
        pass


def _complete(entries: list[tuple[int, bytes]], after: int, upto: int) -> bool:
    """Replay is all or nothing: every seq from after+1 to upto, in order."""
    return [seq for seq, _ in entries] == list(range(after + 1, upto + 1))


LOCAL = LocalBackend()


class RedisBackend:
    """Streams over Redis pub/sub, for one event loop."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # A connect timeout of our own on both: redis-py 5 falls back to `socket_timeout`, so
        # an unreachable host would hold a socket's `hello` for the OS's TCP timeout.
        self.client = aioredis.Redis.from_pool(
            aioredis.BlockingConnectionPool.from_url(
                url,
                max_connections=POOL_SIZE,
                timeout=POOL_WAIT,
                socket_timeout=5,
                socket_connect_timeout=5,
                health_check_interval=30,
            )
        )
        # No socket timeout on the subscriber: an idle pub/sub read must never time out
        # (redis-py 8's 5 s default kills idle listeners; scale.md). No retries either: a lost
        # connection must surface in `_read`, which owns reconnecting (and resyncing).
        self.sub_client = aioredis.Redis.from_url(
            url, socket_timeout=None, socket_connect_timeout=5, retry=Retry(NoBackoff(), 0)
        )
        self.pubsub = self._new_pubsub()
        self.publish_script = self.client.register_script(PUBLISH_LUA)
        self.position_script = self.client.register_script(POSITION_LUA)
        self.hub: Hub | None = None
        self.subscribed: set[str] = set()
        self.reader: asyncio.Task[None] | None = None
        self.fanout: asyncio.Task[None] | None = None
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.active = asyncio.Event()
        #: Continuity of this process's streams is in doubt (the subscriber connection was lost
        #: or re-made, or a stream could not be subscribed): `_read` recovers before reading on.
        self.lost = False
        #: One subscription command at a time on the subscriber: the first commands of a new
        #: PubSub, sent together, each open a connection of their own and only the last one is
        #: read, leaving the others' channels deaf (at start-up, and when sockets come back
        #: during a recovery).
        self.commands = asyncio.Lock()

    def _new_pubsub(self) -> Any:
        return _pubsub_class()(self._reconnected, self.sub_client.connection_pool)

    def _reconnected(self) -> None:
        """redis-py re-made the subscriber connection by itself: messages published while it
        was down are gone, so recover as after an error."""
        logger.warning("redis fan-out connection was re-made; resyncing")
        self.lost = True

    def attach(self, hub: Hub) -> None:
        self.hub = hub

    @staticmethod
    def channel(stream: str) -> str:
        return KEY_PREFIX + "c:" + stream

    @staticmethod
    def key(stream: str) -> str:
        return KEY_PREFIX + "p:" + stream

    @staticmethod
    def history_key(stream: str) -> str:
        return KEY_PREFIX + "h:" + stream

    async def position(self, stream: str) -> tuple[str, int]:
        epoch, seq = await self.position_script(
            keys=[self.key(stream)], args=[new_epoch(), POSITION_TTL]
        )
        return _text(epoch), int(seq)

    async def positions(self, streams: list[str]) -> dict[str, tuple[str, int]]:
        """Positions of many streams, pipelined: one round trip per POSITION_BATCH streams.
        A recovery reads every stream of the process; one round trip each made it
        O(streams) in latency (about 10 s for 100k streams at 100 us each), against the
        10 s the protocol allows."""
        out: dict[str, tuple[str, int]] = {}
        for start in range(0, len(streams), POSITION_BATCH):
            batch = streams[start : start + POSITION_BATCH]
            async with self.client.pipeline(transaction=False) as pipe:
                for stream in batch:
                    args: list[str | int] = [new_epoch(), POSITION_TTL]
                    await self.position_script(keys=[self.key(stream)], args=args, client=pipe)
                results = await pipe.execute()
            for stream, (epoch, seq) in zip(batch, results, strict=True):
                out[stream] = (_text(epoch), int(seq))
        return out

    async def subscribe(self, stream: str) -> tuple[str, int]:
        """Subscribe the process to `stream` and return its position. With Redis unreachable
        the stream is held locally at the unknown position ("", 0): the reader subscribes it
        when Redis returns and its listeners get `resync` then, so a socket opened during an
        outage still works and is told of anything it may have missed."""
        self.subscribed.add(stream)
        self.active.set()
        try:
            async with self.commands:
                await self.pubsub.subscribe(self.channel(stream))
            # Read the position after the subscription is live: anything published later
            # arrives with a higher seq.
            position = await self.position(stream)
        except asyncio.CancelledError:
            self.subscribed.discard(stream)
            raise
        except Exception as exc:
            logger.warning("redis unavailable to subscribe %s (%s); will resync", stream, exc)
            self.lost = True
            position = ("", 0)
        self._start()
        return position

    async def unsubscribe(self, stream: str) -> None:
        self.subscribed.discard(stream)
        if self.pubsub.connection is None:
            return
        try:
            async with self.commands:
                await self.pubsub.unsubscribe(self.channel(stream))
        except Exception as exc:  # down: the next recovery subscribes without this stream
            logger.info("redis unavailable to unsubscribe %s (%s)", stream, exc)

    @classmethod
    def publish_args(cls, stream: str, event: Event, history: int) -> tuple[list[Any], list[Any]]:
        """PUBLISH_LUA's keys and arguments for one event (async and sync publishers)."""
        fresh = take_dirty(stream)
        keys = [cls.key(stream), cls.history_key(stream)]
        args = [new_epoch(), cls.channel(stream), event.encode(), POSITION_TTL, history]
        return keys, [*args, "1" if fresh else "0"]

    async def publish(self, stream: str, event: Event, history: int = 0) -> tuple[str, int]:
        try:
            keys, args = self.publish_args(stream, event, history)
            epoch, seq = await self.publish_script(keys=keys, args=args)
        except asyncio.CancelledError:
            mark_dirty(stream)
            raise
        except Exception as exc:
            return _degraded(stream, exc)
        return _text(epoch), int(seq)

    async def replay(
        self, stream: str, epoch: str, after: int, upto: int
    ) -> list[tuple[int, bytes]] | None:
        if upto <= after:
            current = await self.client.hget(self.key(stream), "epoch")
            return [] if current is not None and _text(current) == epoch else None
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hget(self.key(stream), "epoch")
            pipe.xrange(self.history_key(stream), f"{after + 1}-1", f"{upto}-1")
            current, rows = await pipe.execute()
        if current is None or _text(current) != epoch:
            return None
        entries = [
            (int(_text(entry_id).split("-")[0]), Event.decode(fields[b"d"]).body)
            for entry_id, fields in rows
        ]
        return entries if _complete(entries, after, upto) else None

    def _start(self) -> None:
        if self.reader is None or self.reader.done():
            self.reader = asyncio.create_task(self._read(), name="mizan-redis-reader")
        if self.fanout is None or self.fanout.done():
            self.fanout = asyncio.create_task(self._fan_out(), name="mizan-fanout")

    async def _read(self) -> None:
        """Drain Redis into the queue; on a lost connection, resubscribe and resync. Recovery
        is retried until every step of it succeeded: a half-done one (subscribed again, but
        positions unread) would leave the streams flowing with nobody told to resync."""
        backoff = 0.05
        while True:
            try:
                if self.lost:
                    await self._recover()
                if not self.subscribed:
                    self.active.clear()
                    await self.active.wait()
                    continue
                started = asyncio.get_running_loop().time()
                message = await self.pubsub.get_message(timeout=IDLE_PING)
                backoff = 0.05
                if message is None:
                    # Idle: a ping proves the connection is alive (a half-open one fails here).
                    # Only after IDLE_PING of silence: None also stands for each (un)subscribe
                    # confirmation, and pinging on those doubled what stream churn cost Redis.
                    if asyncio.get_running_loop().time() - started >= IDLE_PING:
                        await self.pubsub.ping()
                elif message.get("type") == "message":
                    self.queue.put_nowait(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.lost:
                    logger.info("redis still unavailable: %s", exc)
                else:
                    logger.warning("redis fan-out connection lost (%s); reconnecting", exc)
                self.lost = True
                await asyncio.sleep(backoff)
                # Reconnect well within the promised bound (MIZAN_RESUBSCRIBE_WITHIN).
                backoff = min(backoff * 2, 1.0, conf.get().RESUBSCRIBE_WITHIN / 4)

    async def _recover(self) -> None:
        """Re-establish every membership of this process in one command, publish a new epoch
        for the streams whose events were lost here, read the positions, then resync every
        listener. Raises when Redis is still unavailable (the caller retries)."""
        self.lost = False  # whatever goes wrong from here on sets it again
        # The pool's idle connections most likely died with the subscriber's (a restart), and
        # a pipeline on a dead one fails instead of reconnecting: one failed recovery per
        # pooled connection (50 s with a full pool) before the positions could be read.
        await self.client.connection_pool.disconnect(inuse_connections=False)
        async with self.commands:
            old, self.pubsub = self.pubsub, self._new_pubsub()
            with contextlib.suppress(Exception):
                await old.aclose()
            streams = sorted(self.subscribed)
            if streams:
                await self.pubsub.subscribe(*[self.channel(s) for s in streams])
        await self._flush_dirty()
        positions = await self.positions(streams)
        if streams:
            logger.warning("redis fan-out restored; %d streams resubscribed", len(streams))
        if self.hub is not None:
            self.hub.continuity_lost(positions)

    async def _flush_dirty(self) -> None:
        """Events lost while Redis was down: a new epoch on each such stream tells every
        process's listeners to resync. A failed publish marks its stream again, and raises
        here so that the recovery is retried."""
        for stream in dirty_streams():
            epoch, _ = await self.publish(stream, Event("rst", b""))
            if not epoch:
                raise ConnectionError(f"redis unavailable to start a new epoch of {stream}")

    async def _fan_out(self) -> None:
        hub = self.hub
        assert hub is not None
        while True:
            message = await self.queue.get()
            try:
                stream = _text(message["channel"])[len(KEY_PREFIX) + 2 :]
                epoch, seq, raw = message["data"].split(b"|", 2)
                hub.dispatch(stream, epoch.decode(), int(seq), Event.decode(raw))
            except Exception:
                logger.exception("bad event on %r", message.get("channel"))

    async def close(self) -> None:
        for task in (self.reader, self.fanout):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        with contextlib.suppress(Exception):
            await self.pubsub.aclose()  # type: ignore[no-untyped-call]
        await self.sub_client.aclose()
        await self.client.aclose()


@functools.cache
def _pubsub_class() -> type[Any]:
    """A PubSub that reports reconnections (built on first use: redis is an optional extra).

    redis-py re-makes a lost pub/sub connection by itself (on a later read or command) and
    resubscribes without a word; whatever was published meanwhile is gone. Reporting every
    such reconnection lets the backend resync instead of carrying on deaf."""
    from redis.asyncio.client import PubSub

    class ReportingPubSub(PubSub):
        def __init__(self, on_reconnect: Callable[[], None], pool: Any) -> None:
            super().__init__(pool, ignore_subscribe_messages=True)
            self.on_reconnect = on_reconnect

        async def on_connect(self, connection: Any) -> None:
            if self.subscribed:  # a first connection has nothing to restore; a re-made one has
                self.on_reconnect()
            await super().on_connect(connection)

    return ReportingPubSub


def unreachable(exc: BaseException) -> bool:
    """Whether `exc` says Redis (or another cache server) could not be reached or answered
    too late: an outage, logged in one line and retried, not a bug with a traceback."""
    if isinstance(exc, OSError):
        return True
    try:  # the `redis` extra
        from redis import exceptions
    except ImportError:
        return False
    return isinstance(exc, exceptions.ConnectionError | exceptions.TimeoutError)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


#: Per Redis URL, one sync client (one pool) and its registered scripts (EVALSHA, not the
#: script text on every call), shared by the publisher and presence's roster reads.
_sync_clients: dict[str, Any] = {}
_sync_scripts: dict[tuple[str, str], Any] = {}
_sync_lock = threading.Lock()


def sync_script(url: str, lua: str) -> Any:
    """`lua` registered on the process's sync client for `url`."""
    with _sync_lock:
        script = _sync_scripts.get((url, lua))
        if script is None:
            client = _sync_clients.get(url)
            if client is None:
                client = _sync_clients[url] = sync_client(url)
            script = _sync_scripts[url, lua] = client.register_script(lua)
    return script


def publish_sync(stream: str, event: Event, history: int = 0) -> tuple[str, int]:
    """Publish from synchronous code (views, signals, management commands, worker threads)."""
    url = redis_url()
    if not url:
        return LOCAL.publish_sync(stream, event, history)
    script = sync_script(url, PUBLISH_LUA)
    try:
        keys, args = RedisBackend.publish_args(stream, event, history)
        epoch, seq = script(keys=keys, args=args)
    except Exception as exc:
        return _degraded(stream, exc)
    return _text(epoch), int(seq)


def sync_client(url: str) -> Any:
    """A sync client on a blocking pool of POOL_SIZE: threads past it wait for a connection
    instead of failing (see POOL_SIZE)."""
    import redis

    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=POOL_SIZE, timeout=POOL_WAIT, socket_timeout=5
    )
    return redis.Redis(connection_pool=pool)


def publish_control_sync(stream: str, event: Event) -> None:
    """Publish a `CONTROL` event from synchronous code: a plain PUBLISH on the stream's
    channel (so it stays in order with the stream's events) that takes no position."""
    assert event.kind == CONTROL
    url = redis_url()
    if not url:
        LOCAL.publish_control(stream, event)
        return
    try:
        client = sync_script(url, PUBLISH_LUA).registered_client
        client.publish(RedisBackend.channel(stream), b"|0|" + event.encode())
    except Exception as exc:
        _degraded(stream, exc)


def _degraded(stream: str, exc: Exception) -> tuple[str, int]:
    """Degraded mode: the broker is unreachable. The event is lost, so the stream is marked
    for a new epoch: its listeners resync when it next publishes, and every process that lost
    its connection resyncs its listeners when it reconnects. Callers carry on (a mutation
    still succeeds); ("", 0) says nothing was published."""
    mark_dirty(stream)
    logger.warning("publish to %s failed (%s); listeners will resync", stream, exc)
    return "", 0
