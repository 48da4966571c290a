"""Delivery without silent loss: positions, gap and epoch detection, replay, overload and
degraded mode — in-process, on the in-memory broker and on real Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from mizan_channels import broker, hub
from mizan_channels.consumers.socket import MizanConsumer
from mizan_channels.hub import get_hub
from tests.conftest import TIMEOUT
from tests.sockets import resyncs, sock
from tests.testapp.clients import FeedChannel

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["local", "redis"])
async def backend(request: Any, settings: Any) -> AsyncIterator[str]:
    """Run the test on the in-process broker and on real Redis."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        settings.MIZAN_REDIS_URL = url
    hub.reset()
    yield request.param
    await get_hub().close()
    hub.reset()


def feed(topic: str) -> str:
    return FeedChannel.stream_for(FeedChannel.Params(topic=topic))


async def push(topic: str, n: int) -> None:
    await FeedChannel.apush(FeedChannel.DjangoMessage(n=n), topic=topic)


async def lose_one(stream: str) -> None:
    """A message that takes its position but never reaches this process."""
    backend = get_hub().backend
    if isinstance(backend, broker.RedisBackend):
        await backend.publish_script(
            keys=[backend.key(stream), backend.history_key(stream)],
            args=[broker.new_epoch(), "mizan:void", b"msg||{}", 60, 0, "0"],
        )
    else:
        with broker.LOCAL.lock:
            broker.LOCAL.seqs[stream] = broker.LOCAL.seqs.get(stream, 0) + 1


class StalledClient:
    """A socket driven through bare ASGI by a client that stops reading as soon as a frame
    it was sent makes `stall_when(texts)` true, and reads again on `resume()`: the server's
    `send` then blocks, as a real server's does for a client that doesn't read. Every text
    frame written is kept, in order, in `texts`."""

    def __init__(
        self, stall_when: Callable[[list[str]], bool], consumer: MizanConsumer | None = None
    ) -> None:
        self.stall_when = stall_when
        self.consumer = consumer or MizanConsumer()
        self.texts: list[str] = []
        self.stalled = asyncio.Event()
        self.reading = asyncio.Event()
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.waits: list[tuple[Callable[[list[str]], bool], asyncio.Event]] = []
        self.task: asyncio.Task[None] | None = None

    async def _send(self, message: dict[str, Any]) -> None:
        if self.stalled.is_set():
            await self.reading.wait()
        if "text" not in message:  # accept, close
            return
        self.texts.append(message["text"])
        if self.stall_when(self.texts):
            self.stalled.set()
        for cond, event in self.waits:
            if cond(self.texts):
                event.set()

    def until(self, cond: Callable[[list[str]], bool]) -> asyncio.Event:
        """Set once a written frame makes `cond(texts)` true."""
        event = asyncio.Event()
        self.waits.append((cond, event))
        return event

    async def open(self, *frames: dict[str, Any]) -> None:
        """Connect, send `frames`, and wait until the client stops reading."""
        scope = {"type": "websocket", "path": "/ws/mizan/", "headers": [], "query_string": b""}
        self.task = asyncio.create_task(self.consumer(scope, self.inbox.get, self._send))
        await self.inbox.put({"type": "websocket.connect"})
        for frame in frames:
            await self.send(frame)
        await asyncio.wait_for(self.stalled.wait(), TIMEOUT)

    async def send(self, frame: dict[str, Any]) -> None:
        await self.inbox.put({"type": "websocket.receive", "text": json.dumps(frame)})

    def resume(self) -> None:
        self.reading.set()

    async def close(self) -> None:
        await self.inbox.put({"type": "websocket.disconnect", "code": 1000})
        assert self.task is not None
        await asyncio.wait_for(self.task, TIMEOUT)


def oks(*ids: int) -> Callable[[list[str]], bool]:
    """Every one of these requests was answered `ok` (side by side: in whatever order)."""
    return lambda texts: all(any(f'"t":"ok","id":{i},' in t for t in texts) for i in ids)


async def delivered() -> None:
    """The hub's deliveries scheduled before this call have run (they go by call_soon)."""
    done = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(done.set_result, None)
    await done


async def test_seq_increases_by_one_and_matches_across_sockets(backend: str) -> None:
    async with sock() as a, sock() as b:
        sa = await a.request({"t": "sub", "ch": "feed", "params": {"topic": "t1"}})
        sb = await b.request({"t": "sub", "ch": "feed", "params": {"topic": "t1"}})
        assert sa["data"]["epoch"] == sb["data"]["epoch"]
        start = sa["data"]["seq"]
        for n in range(3):
            await push("t1", n)
        for c, reply in ((a, sa), (b, sb)):
            seqs = [(await c.next_frame(lambda f: f["t"] == "msg"))["seq"] for _ in range(3)]
            assert seqs == [start + 1, start + 2, start + 3]
            assert reply["data"]["seq"] == start


async def test_resume_with_since_replays_exactly_what_was_missed(backend: str) -> None:
    async with sock() as c:
        first = await c.request({"t": "sub", "ch": "feed", "params": {"topic": "r1"}})
        epoch, seq = first["data"]["epoch"], first["data"]["seq"]
        await push("r1", 1)
        await c.next_frame(lambda f: f["t"] == "msg")
        await c.unsubscribe(first["id"])
        await push("r1", 2)
        await push("r1", 3)
        again = await c.request(
            {
                "t": "sub",
                "ch": "feed",
                "params": {"topic": "r1"},
                "since": {"epoch": epoch, "seq": seq + 1},
            }
        )
        assert again["data"]["recovered"] is True
        replayed = [await c.next_frame(lambda f: f["t"] == "msg") for _ in range(2)]
        assert [f["data"]["n"] for f in replayed] == [2, 3]
        assert [f["seq"] for f in replayed] == [seq + 2, seq + 3]
        await push("r1", 4)
        live = await c.next_frame(lambda f: f["t"] == "msg")
        assert (live["data"]["n"], live["seq"]) == (4, seq + 4)


async def test_replay_is_never_partial(backend: str) -> None:
    async with sock() as c:
        first = await c.request({"t": "sub", "ch": "feed", "params": {"topic": "p1"}})
        epoch, seq = first["data"]["epoch"], first["data"]["seq"]
        await c.unsubscribe(first["id"])
        for n in range(8):  # history keeps 5: the first 3 are gone
            await push("p1", n)
        again = await c.request(
            {
                "t": "sub",
                "ch": "feed",
                "params": {"topic": "p1"},
                "since": {"epoch": epoch, "seq": seq},
            }
        )
        assert again["data"]["recovered"] is False
        await c.assert_nothing()
        wrong = await c.request(
            {
                "t": "sub",
                "ch": "feed",
                "params": {"topic": "p1"},
                "since": {"epoch": "not-the-epoch", "seq": seq + 7},
            }
        )
        assert wrong["data"]["recovered"] is False


async def test_gap_sends_resync_before_the_next_message(backend: str) -> None:
    async with sock() as c:
        reply = await c.request({"t": "sub", "ch": "feed", "params": {"topic": "g1"}})
        sub = reply["id"]
        stream = feed("g1")
        await lose_one(stream)
        await push("g1", 1)
        resync = await c.next_frame(lambda f: f["t"] in ("resync", "msg"))
        assert resync == {"t": "resync", "sub": sub, "epoch": reply["data"]["epoch"]}
        msg = await c.next_frame(lambda f: f["t"] == "msg")
        assert msg["data"] == {"n": 1} and msg["seq"] == reply["data"]["seq"] + 2


async def test_lost_redis_state_changes_epoch_and_resyncs(redis_url: str, settings: Any) -> None:
    settings.MIZAN_REDIS_URL = redis_url
    hub.reset()
    try:
        async with sock() as c:
            reply = await c.request({"t": "sub", "ch": "feed", "params": {"topic": "e1"}})
            stream = feed("e1")
            backend = get_hub().backend
            assert isinstance(backend, broker.RedisBackend)
            await backend.client.delete(backend.key(stream))  # Redis lost the key
            await push("e1", 1)
            resync = await c.next_frame(lambda f: f["t"] == "resync")
            assert resync["sub"] == reply["id"] and resync["epoch"] != reply["data"]["epoch"]
            msg = await c.next_frame(lambda f: f["t"] == "msg")
            assert msg["seq"] == 1 and msg["data"] == {"n": 1}
    finally:
        await get_hub().close()
        hub.reset()


async def test_slow_socket_gets_resync_not_silence(settings: Any) -> None:
    """A socket whose client doesn't read: pushes over the budget are dropped and replaced by
    `resync`; replies are kept. Driven through the ASGI interface with a stalled send."""
    settings.MIZAN_SEND_BUFFER_BYTES = 2000
    hub.reset()
    client = StalledClient(stall_when=oks(1))
    answered = client.until(lambda texts: '"id":3' in texts[-1])
    await client.open({"t": "sub", "id": 1, "ch": "feed", "params": {"topic": "slow"}})
    for n in range(200):
        await push("slow", n)
    await client.send({"t": "ping", "id": 2})
    client.resume()
    await client.send({"t": "ping", "id": 3})
    await asyncio.wait_for(answered.wait(), TIMEOUT)
    texts = client.texts
    assert any('"t":"resync"' in t and '"sub":1' in t for t in texts)
    assert any('"t":"pong","id":2' in t for t in texts)  # replies are never dropped
    assert sum('"t":"msg"' in t for t in texts) < 200
    await client.close()


async def test_a_socket_that_never_reads_holds_one_resync_per_stream_not_one_per_push(
    settings: Any,
) -> None:
    """Past the budget, every push used to resync every stream of the socket again, queuing
    frames that are never dropped: a client that stopped reading grew the queue (and the log)
    by one `resync` per subscription per push. A `resync` still waiting in the queue covers
    what is dropped after it, so the queue stays bounded, and the client that reads again
    gets each stream's `resync` once or twice, then live pushes."""
    settings.MIZAN_SEND_BUFFER_BYTES = 2000
    hub.reset()
    client = StalledClient(stall_when=oks(1, 2, 3))
    arrived = client.until(lambda texts: '"t":"msg"' in texts[-1] and '"n":-1' in texts[-1])
    await client.open(
        *({"t": "sub", "id": i, "ch": "feed", "params": {"topic": f"stall{i}"}} for i in (1, 2, 3))
    )
    for n in range(2000):
        await push("stall1", n)
    await delivered()
    client.resume()
    await push("stall1", -1)
    await asyncio.wait_for(arrived.wait(), TIMEOUT)
    for sub in (1, 2, 3):
        resynced = [t for t in client.texts if '"t":"resync"' in t and f'"sub":{sub},' in t]
        assert 1 <= len(resynced) <= 2, (sub, len(resynced))
    assert len(client.texts) < 100, len(client.texts)
    await client.close()


async def flows(c: Any, topic: str) -> None:
    """Pushes on `topic` reach `c` again (a push made while resubscribing may not)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        await c.call("publish_numbered", topic=topic, n=7)
        try:
            msg = await c.next_frame(lambda f: f["t"] == "msg", timeout=0.5)
            break
        except AssertionError:
            assert asyncio.get_running_loop().time() < deadline
    assert msg["data"] == {"n": 7}


async def test_mutation_while_redis_is_down_degrades(redis_hub: Any) -> None:
    async with sock() as c:
        sub = await c.subscribe("feed", topic="down")
        redis_hub.kill()
        result = await c.call("add_room", name="x")  # shared + personal invalidation
        assert result == "x"
        await c.assert_invalidated({"ctx": "rooms"}, {"ctx": "user"})
        assert await c.call("publish_numbered", topic="down", n=1) is True
        redis_hub.start()
        # Within the protocol's bound, the socket is told to resync and pushes flow again.
        await resyncs(c, {("sub", sub), ("aud", "all")}, timeout=10)
        await flows(c, "down")


async def test_redis_py_reconnecting_by_itself_still_resyncs(redis_hub: Any) -> None:
    """Redis drops the process's pub/sub connection (here CLIENT KILL; in production e.g. its
    output-buffer limit) while Redis stays up: whether redis-py reports the error or re-makes
    the connection and resubscribes by itself, what was published meanwhile is lost, so every
    stream resyncs."""
    async with sock() as c:
        sub = await c.subscribe("feed", topic="remade")
        backend = get_hub().backend
        assert isinstance(backend, broker.RedisBackend)
        await backend.client.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        await resyncs(c, {("sub", sub), ("aud", "all")}, timeout=10)
        await flows(c, "remade")


async def test_socket_opened_while_redis_is_down_works_and_resyncs_on_return(
    redis_hub: Any, django_user_model: Any
) -> None:
    """A socket opened during an outage gets `hello` and answers calls; its audience streams
    (and a channel subscribed meanwhile) are held locally, subscribed when Redis returns, and
    resynced then: they may have missed events."""
    ann = await django_user_model.objects.acreate_user("ann", password="pw")
    redis_hub.kill()
    async with sock(user=ann) as c:
        assert c.hello["t"] == "hello"
        assert await c.call("echo", text="down") == {"message": "down"}
        sub = await c.subscribe("feed", topic="opened-down")
        redis_hub.start()
        wanted = {("sub", sub), ("aud", "all"), ("aud", "user"), ("aud", "session")}
        await resyncs(c, wanted, timeout=10)
        await flows(c, "opened-down")


class Heard:
    """A bare hub listener: the events it was given, and an event to await them."""

    def __init__(self) -> None:
        self.events: list[bytes] = []
        self.got = asyncio.Event()

    def on_event(self, stream: str, epoch: str, seq: int, event: hub.Event) -> None:
        self.events.append(event.body)
        self.got.set()

    def on_resync(self, stream: str, epoch: str, seq: int) -> None:
        pass


async def test_streams_joined_together_on_a_fresh_broker_all_hear(backend: str) -> None:
    # The first subscriptions of a process (many users' sockets opening at once) are sent
    # together; each must end up on the connection the broker reads, or its stream is deaf.
    h = get_hub()
    listeners = {f"together-{i}": Heard() for i in range(6)}
    await asyncio.gather(*(h.join(stream, heard) for stream, heard in listeners.items()))
    for stream in listeners:
        await h.publish(stream, hub.Event("msg", stream.encode()))
    for stream, heard in listeners.items():
        await asyncio.wait_for(heard.got.wait(), TIMEOUT)
        assert heard.events == [stream.encode()]
    for stream, heard in listeners.items():
        await h.leave(stream, heard)


async def test_a_presence_diff_dropped_after_a_roster_resend_is_resynced_again(
    settings: Any,
) -> None:
    """A queued `resync` covers drops only until the roster it announced is sent whole: the
    client reads that `resync`, then the roster, so a join dropped after the roster was
    queued would be missing from the client's view for good unless it is resynced again."""
    settings.MIZAN_SEND_BUFFER_BYTES = 2000
    hub.reset()
    roster_sent_whole, presence_event = asyncio.Event(), asyncio.Event()

    def roster(texts: list[str]) -> set[str]:
        """The room as the client sees it: the last whole roster, then the joins after it."""
        frames = [json.loads(t) for t in texts]
        mine = [f for f in frames if f.get("t") == "presence" and f.get("sub") == 1]
        wholes = [i for i, f in enumerate(mine) if "state" in f]
        if not wholes:
            return set()
        keys = set(mine[wholes[-1]]["state"])
        for f in mine[wholes[-1] + 1 :]:
            keys |= set(f.get("joins", {}))
        return keys

    class Watched(MizanConsumer):
        def _queue(self, frame: bytes, droppable: bool = False, resynced: str = "") -> None:
            super()._queue(frame, droppable, resynced)
            if b'"state"' in frame:
                roster_sent_whole.set()

        def on_event(self, stream: str, epoch: str, seq: int, event: Any) -> None:
            super().on_event(stream, epoch, seq, event)
            if event.kind == "pres":
                presence_event.set()

    consumer = Watched()
    client = StalledClient(stall_when=oks(1, 2), consumer=consumer)
    listed = client.until(lambda texts: len(roster(texts)) == 2)
    await client.open(
        {"t": "sub", "id": 1, "ch": "presence_room", "params": {"room": "overflow"}},
        {"t": "sub", "id": 2, "ch": "feed", "params": {"topic": "overflow"}},
    )
    n = 0
    while not roster_sent_whole.is_set():  # overflow 1: resync both streams, re-read roster
        n += 1
        await push("overflow", n)
        if n > 500:
            await asyncio.wait_for(roster_sent_whole.wait(), TIMEOUT)
    # Fill the budget with pushes up to the last one that fits: the join is bigger, so it is
    # the frame that overflows.
    while consumer.out_bytes + 60 < consumer.send_budget:
        n += 1
        await push("overflow", n)
        await delivered()
    async with sock() as other:
        presence_event.clear()
        await other.subscribe("presence_room", room="overflow")
        await asyncio.wait_for(presence_event.wait(), TIMEOUT)  # the join met the full buffer
        client.resume()
        await asyncio.wait_for(listed.wait(), TIMEOUT)
    await client.close()
