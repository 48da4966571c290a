"""Presence in one process: declaration rules, the roster in `ok`, join/leave diffs, tabs,
identity changes, resync, the server API, and floods that must coalesce without ever
leaving the roster wrong. Rosters are rebuilt only from frames the sockets receive."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from pydantic import BaseModel

from mizan_channels import ConfigurationError, ReactChannel, broker, conf, protocol
from mizan_channels.broker import RedisBackend
from mizan_channels.exceptions import MizanError
from mizan_channels.hub import Hub, get_hub
from mizan_channels.presence import DefaultPresenceMeta, apply_diff
from mizan_channels.presence.store import LOCAL_STORE, Snapshot, roster_key
from mizan_channels.presence.tracker import Tracker, tracker_for
from mizan_channels.testing import MizanCommunicator
from tests.conftest import TIMEOUT
from tests.ir_helpers import scratch_channels
from tests.sessions import anonymous_session, tab
from tests.sockets import resyncs, still_works
from tests.testapp.clients import PresenceCardChannel, PresenceRoomChannel

Roster = dict[str, dict[str, Any]]


class Watcher:
    """One subscription's roster, built from its `ok` and `presence` frames only."""

    def __init__(self, comm: MizanCommunicator, data: dict[str, Any]) -> None:
        self.comm = comm
        self.sub = data["sub"]
        self.state: Roster = {}
        self.seq = data["presence"]["seq"]
        apply_diff(self.state, {"state": data["presence"]["state"]})
        self.frames = 0

    def users(self) -> set[str]:
        return set(self.state)

    async def next(self) -> dict[str, Any]:
        frame = await self.comm.next_frame(lambda f: f["t"] == "presence" and f["sub"] == self.sub)
        if "state" not in frame:  # a state frame restarts positions (it may follow a new epoch)
            assert frame["seq"] > self.seq, f"diff seq went from {self.seq} to {frame['seq']}"
        self.seq = frame["seq"]
        self.frames += 1
        apply_diff(self.state, frame)
        return frame

    async def until(self, done: Callable[[Roster], bool]) -> Roster:
        async with asyncio.timeout(TIMEOUT):
            while not done(self.state):
                await self.next()
        return self.state


async def watch(comm: MizanCommunicator, channel: str, **params: Any) -> Watcher:
    reply = await comm.request({"t": "sub", "ch": channel, "params": params})
    assert reply["t"] == "ok", reply
    return Watcher(comm, reply["data"])


def room(request: pytest.FixtureRequest) -> str:
    """A room of this test's own: the in-process roster outlives a test's event loop."""
    return f"{request.node.name}-{random.randrange(1 << 30)}"


@pytest.fixture
def users(transactional_db: None, django_user_model: Any) -> Callable[..., Any]:
    async def make(*names: str) -> list[Any]:
        return [await django_user_model.objects.acreate(username=n) for n in names]

    return make


# Declaration ------------------------------------------------------------------------------


def test_presence_true_gives_the_default_metadata_model() -> None:
    assert PresenceRoomChannel.presence
    assert PresenceRoomChannel.presence.model is DefaultPresenceMeta
    assert PresenceCardChannel.presence.model is PresenceCardChannel.PresenceMeta


def test_channels_without_presence_are_falsy_and_refuse_the_server_api() -> None:
    from tests.testapp.clients import ChatChannel

    assert not ChatChannel.presence
    with pytest.raises(ConfigurationError, match="presence = True"):
        ChatChannel.presence(room="x")


def _declare(**body: Any) -> type[ReactChannel]:
    class Params(BaseModel):
        room: str

    class DjangoMessage(BaseModel):
        text: str

    ns: dict[str, Any] = {
        "Params": Params,
        "DjangoMessage": DjangoMessage,
        "group": lambda self, params: params.room,
        **body,
    }
    return type("ScratchPresenceChannel", (ReactChannel,), ns)


class Meta(BaseModel):
    name: str


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"presence": "yes"}, "must be True or False"),
        ({"PresenceMeta": Meta}, "no `def presence_meta"),
        ({"presence_meta": lambda self: None}, "declare `class PresenceMeta"),
        ({"PresenceMeta": dict, "presence_meta": lambda self: None}, "must be a Pydantic model"),
        (
            {"presence": False, "PresenceMeta": Meta, "presence_meta": lambda self: None},
            "presence = False",
        ),
        (
            {"PresenceMeta": Meta, "presence_meta": lambda self, a, b: None},
            r"must be `def presence_meta\(self\)`",
        ),
    ],
)
def test_wrong_declarations_fail_at_class_creation(body: dict[str, Any], message: str) -> None:
    with scratch_channels(), pytest.raises(ConfigurationError, match=message):
        _declare(**body)


def test_hook_model_may_come_from_the_return_annotation() -> None:
    def presence_meta(self: Any) -> Meta:
        return Meta(name="x")

    with scratch_channels():
        cls = _declare(presence_meta=presence_meta)
        assert cls.presence.model is Meta


# Joining and leaving ----------------------------------------------------------------------


async def test_subscriber_gets_the_roster_including_itself(users: Any, request: Any) -> None:
    (ann,) = await users("ann")
    r = room(request)
    async with MizanCommunicator(user=ann) as a:
        w = await watch(a, "presence_room", room=r)
        assert list(w.state) == [str(ann.pk)]
        (meta,) = w.state[str(ann.pk)].values()
        assert meta == {"id": str(ann.pk), "username": "ann"}


async def test_join_and_leave_reach_other_subscribers(users: Any, request: Any) -> None:
    ann, bob = await users("ann", "bob")
    r = room(request)
    async with MizanCommunicator(user=ann) as a, MizanCommunicator(user=bob) as b:
        wa = await watch(a, "presence_room", room=r)
        wb = await watch(b, "presence_room", room=r)
        assert wb.users() == {str(ann.pk), str(bob.pk)}
        await wa.until(lambda s: str(bob.pk) in s)
        await b.request({"t": "unsub", "sub": wb.sub})
        await wa.until(lambda s: str(bob.pk) not in s)
        assert wa.users() == {str(ann.pk)}


async def test_closing_a_tab_is_a_leave(users: Any, request: Any) -> None:
    ann, bob = await users("ann", "bob")
    r = room(request)
    async with MizanCommunicator(user=ann) as a:
        wa = await watch(a, "presence_room", room=r)
        b = MizanCommunicator(user=bob)
        await b.connect()
        await watch(b, "presence_room", room=r)
        await wa.until(lambda s: str(bob.pk) in s)
        await b.disconnect()
        await wa.until(lambda s: str(bob.pk) not in s)
    assert await PresenceRoomChannel.apresence(room=r) == {}


async def test_tabs_of_one_user_count_once_until_the_last_closes(users: Any, request: Any) -> None:
    ann, bob = await users("ann", "bob")
    r = room(request)
    async with MizanCommunicator(user=ann) as a:
        wa = await watch(a, "presence_card", room=r, tab="watcher")
        tabs = [MizanCommunicator(user=bob) for _ in range(3)]
        for i, tab in enumerate(tabs):
            await tab.connect()
            await watch(tab, "presence_card", room=r, tab=f"t{i}")
        bob_key = str(bob.pk)
        await wa.until(lambda s: len(s.get(bob_key, {})) == 3)
        assert sorted(m["tab"] for m in wa.state[bob_key].values()) == ["t0", "t1", "t2"]
        assert len(wa.state) == 2  # ann and bob: three tabs are one user
        roster = PresenceCardChannel.presence(room=r)  # sync server API, here on the loop
        assert sorted(m.tab for m in roster[bob_key]) == ["t0", "t1", "t2"]
        await tabs[0].disconnect()
        await tabs[1].disconnect()
        await wa.until(lambda s: len(s.get(bob_key, {})) == 1)
        assert [m["tab"] for m in wa.state[bob_key].values()] == ["t2"]
        await tabs[2].disconnect()
        await wa.until(lambda s: bob_key not in s)


async def test_two_subscriptions_of_one_socket_are_one_connection(users: Any, request: Any) -> None:
    (ann,) = await users("ann")
    r = room(request)
    async with MizanCommunicator(user=ann) as a:
        w1 = await watch(a, "presence_room", room=r)
        w2 = await watch(a, "presence_room", room=r)
        assert len(w2.state[str(ann.pk)]) == 1
        await a.request({"t": "unsub", "sub": w1.sub})
        await a.assert_nothing(0.2)  # still subscribed once: no leave
        assert len(PresenceRoomChannel.presence(room=r)[str(ann.pk)]) == 1


async def test_hidden_connections_watch_without_being_listed(users: Any, request: Any) -> None:
    ann, bob = await users("ann", "bob")
    r = room(request)
    async with MizanCommunicator(user=ann) as a, MizanCommunicator(user=bob) as b:
        wa = await watch(a, "presence_card", room=r, hidden=True)
        assert wa.state == {}
        await watch(b, "presence_card", room=r, tab="x")
        await wa.until(lambda s: str(bob.pk) in s)
        assert str(ann.pk) not in wa.state
        assert list(await PresenceCardChannel.apresence(room=r)) == [str(bob.pk)]


async def test_anonymous_visitors_without_session_are_separate_guests(request: Any) -> None:
    r = room(request)
    async with MizanCommunicator() as a, MizanCommunicator() as b:
        wa = await watch(a, "presence_card", room=r)
        await watch(b, "presence_card", room=r)
        await wa.until(lambda s: len(s) == 2)
        assert all(k.startswith("anon:") for k in wa.state)
        metas = [m for refs in wa.state.values() for m in refs.values()]
        assert {m["name"] for m in metas} == {"GUEST"}


async def test_tabs_of_one_anonymous_session_count_once(users: Any, request: Any) -> None:
    r = room(request)
    key = await sync_to_async(anonymous_session)()
    async with tab(key) as one, tab(key) as two:
        w = await watch(one, "presence_card", room=r, tab="1")
        await watch(two, "presence_card", room=r, tab="2")
        await w.until(lambda s: sum(len(v) for v in s.values()) == 2)
        (guest,) = w.state
        assert guest.startswith("anon:") and key not in guest  # a digest, never the key


async def test_signing_in_moves_the_connection_to_the_user(users: Any, request: Any) -> None:
    ann, bob = await users("ann", "bob")
    await sync_to_async(bob.set_password)("pw")
    await bob.asave()
    r = room(request)
    key = await sync_to_async(anonymous_session)()
    async with MizanCommunicator(user=ann) as a, tab(key) as b:
        wa = await watch(a, "presence_room", room=r)
        await watch(b, "presence_room", room=r)
        await wa.until(lambda s: len(s) == 2)
        assert await b.call("sign_in", username="bob", password="pw") is True
        await wa.until(lambda s: set(s) == {str(ann.pk), str(bob.pk)})
        (meta,) = wa.state[str(bob.pk)].values()
        assert meta["username"] == "bob"


async def test_bad_metadata_fails_the_subscription_and_leaves_nothing(
    users: Any, request: Any
) -> None:
    (ann,) = await users("ann")
    r = room(request)
    async with MizanCommunicator(user=ann) as a:
        # A tab longer than the metadata limit: the hook's value is refused.
        reply = await a.request(
            {"t": "sub", "ch": "presence_card", "params": {"room": r, "tab": "x" * 5000}}
        )
        assert reply["t"] == "err" and reply["error"]["code"] == "server_error"
        assert PresenceCardChannel.presence(room=r) == {}
        w = await watch(a, "presence_card", room=r, tab="ok")  # the socket carries on
        assert list(w.state) == [str(ann.pk)]


async def test_invalid_params_for_the_server_api_name_the_field() -> None:
    with pytest.raises(MizanError) as info:
        PresenceRoomChannel.presence()
    assert info.value.code.value == "invalid_params"


# Positions and resync ---------------------------------------------------------------------


async def test_resync_is_followed_by_the_whole_roster(users: Any, request: Any) -> None:
    ann, bob = await users("ann", "bob")
    r = room(request)
    async with MizanCommunicator(user=ann) as a, MizanCommunicator(user=bob) as b:
        wa = await watch(a, "presence_room", room=r)
        await watch(b, "presence_room", room=r)
        await wa.until(lambda s: len(s) == 2)
        hub = get_hub()
        stream = PresenceRoomChannel.stream_for(PresenceRoomChannel.parse_params({"room": r}))
        _epoch, seq = hub.position(stream)  # type: ignore[misc]
        hub.continuity_lost({stream: ("rebuilt", seq)})
        await a.next_frame(lambda f: f["t"] == "resync" and f.get("sub") == wa.sub)
        frame = await wa.next()
        assert "state" in frame and set(frame["state"]) == {str(ann.pk), str(bob.pk)}
        await b.disconnect()
        await wa.until(lambda s: set(s) == {str(ann.pk)})


async def test_msg_and_presence_frames_share_the_streams_positions(
    users: Any, request: Any
) -> None:
    ann, bob = await users("ann", "bob")
    r = room(request)
    async with MizanCommunicator(user=ann) as a, MizanCommunicator(user=bob) as b:
        wa = await watch(a, "presence_room", room=r)
        await PresenceRoomChannel.apush({"text": "hi"}, room=r)
        pushed = await a.next_frame(lambda f: f["t"] == "msg")
        await watch(b, "presence_room", room=r)
        joined = await wa.next()
        assert joined["seq"] == pushed["seq"] + 1


# Floods and coalescing --------------------------------------------------------------------


async def test_a_flood_of_joins_and_leaves_never_leaves_the_roster_wrong(
    users: Any, request: Any
) -> None:
    people = await users(*[f"u{i}" for i in range(12)])
    (watcher,) = await users("watcher")
    r = room(request)
    rng = random.Random(14)
    async with MizanCommunicator(user=watcher) as w_comm:
        w = await watch(w_comm, "presence_card", room=r, hidden=True)
        socks = [MizanCommunicator(user=rng.choice(people)) for _ in range(40)]
        await asyncio.gather(*(s.connect() for s in socks))
        await asyncio.gather(
            *(watch(s, "presence_card", room=r, tab=str(i)) for i, s in enumerate(socks))
        )
        leaving = rng.sample(socks, 25)
        staying = [s for s in socks if s not in leaving]
        late = [MizanCommunicator(user=rng.choice(people)) for _ in range(10)]
        await asyncio.gather(*(s.connect() for s in late))
        # Leaves and new joins interleaved, all at once.
        await asyncio.gather(
            *(s.disconnect() for s in leaving),
            *(watch(s, "presence_card", room=r, tab=f"late{i}") for i, s in enumerate(late)),
        )
        expected = {str(s._user.pk) for s in staying + late}
        count = len(staying) + len(late)
        # Leaves are written in batches after the sockets close: the watcher's roster
        # converges on the truth, and the server's agrees once it has.
        await w.until(lambda s: set(s) == expected and sum(len(v) for v in s.values()) == count)
        server = PresenceCardChannel.presence(room=r)
        assert set(server) == expected
        assert sum(len(v) for v in server.values()) == count
        assert {m["tab"] for v in w.state.values() for m in v.values()} == {
            m.tab for v in server.values() for m in v
        }
        # 40 + 25 + 10 changes reached the watcher in fewer frames: they were coalesced.
        assert w.frames < 75
        await asyncio.gather(*(s.disconnect() for s in staying + late))
        await w.until(lambda s: s == {})


async def joined(tracker: Tracker, stream: str, ref: str, key: str, meta: bytes) -> Snapshot:
    """Add a member, as a subscription does; the roster once it is written."""
    tracker.announce(stream, ref, key, meta)
    return await tracker.snapshot(stream)


async def test_concurrent_changes_are_written_as_one_batch_and_one_event() -> None:
    tracker = tracker_for(get_hub())
    stream = f"ch:test:{random.randrange(1 << 30)}"
    refs = [tracker.new_ref() for _ in range(100)]
    before = tracker.writes

    snapshots = await asyncio.gather(
        *(joined(tracker, stream, ref, f"user{i % 7}", b'{"n":1}') for i, ref in enumerate(refs))
    )
    assert tracker.writes - before == 1
    assert all(s.seq == snapshots[0].seq for s in snapshots)
    assert len(snapshots[0].members) == 100
    for ref in refs[:50]:
        tracker.leave(stream, ref, "x")
    late = tracker.new_ref()
    tracker.announce(stream, late, "user9", b"{}")
    tracker.leave(stream, late, "user9")  # joined and left within one batch: no trace
    snapshot = await tracker.snapshot(stream)
    assert set(snapshot.members) == set(refs[50:])
    for ref in refs[50:]:
        tracker.leave(stream, ref, "x")
    await tracker.snapshot(stream)
    assert LOCAL_STORE.read(stream) == {}


# Across processes, through a real Redis ---------------------------------------------------


class Heard:
    """A hub listener that keeps the presence diffs and resyncs of one stream."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def on_event(self, stream: str, epoch: str, seq: int, event: Any) -> None:
        if event.kind == "pres":
            self.events.put_nowait({"seq": seq, **protocol.loads(event.body)})

    def on_resync(self, stream: str, epoch: str, seq: int) -> None:
        self.events.put_nowait({"resync": True})

    async def until(self, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        async with asyncio.timeout(TIMEOUT):
            while not done(event := await self.events.get()):
                pass
        return event


@pytest.fixture
async def redis_process(redis_url: str, settings: Any) -> Any:
    """Make a 'process' (hub + tracker) on a real Redis; short presence timings."""
    settings.MIZAN_PRESENCE_TTL = 0.6
    settings.MIZAN_PRESENCE_HEARTBEAT = 0.2
    made: list[Any] = []

    def make() -> Any:
        backend = RedisBackend(redis_url)
        hub = Hub(asyncio.get_running_loop(), backend)
        backend.attach(hub)
        made.append(hub)
        return hub, Tracker(hub)

    yield make
    for hub in made:
        await hub.close()


@pytest.mark.redis
async def test_redis_rosters_and_diffs_cross_processes(redis_process: Any) -> None:
    (_hub_a, a), (hub_b, b) = redis_process(), redis_process()
    stream = f"ch:test:{random.randrange(1 << 30)}"
    heard = Heard()
    await hub_b.join(stream, heard)
    ra, rb = a.new_ref(), b.new_ref()
    snap_a = await joined(a, stream, ra, "ann", b'{"n":1}')
    snap_b = await joined(b, stream, rb, "bob", b'{"n":2}')
    assert set(snap_a.members) == {ra} and set(snap_b.members) == {ra, rb}
    assert snap_b.seq == snap_a.seq + 1 and snap_b.epoch == snap_a.epoch
    first = await heard.until(lambda e: ra in e.get("joins", {}).get("ann", {}))
    assert first["joins"] == {"ann": {ra: {"n": 1}}} and first["leaves"] == {}
    a.leave(stream, ra, "ann")
    left = await heard.until(lambda e: "ann" in e.get("leaves", {}))
    assert left["leaves"] == {"ann": [ra]} and left["seq"] == snap_b.seq + 1
    assert set(await b.redis.read(stream)) == {rb}  # type: ignore[union-attr]
    b.leave(stream, rb, "bob")
    await heard.until(lambda e: "bob" in e.get("leaves", {}))
    await a.close()
    await b.close()


@pytest.mark.redis
async def test_a_dead_processs_members_are_hidden_then_swept(redis_process: Any) -> None:
    (_hub_a, a), (hub_b, b) = redis_process(), redis_process()
    stream = f"ch:test:{random.randrange(1 << 30)}"
    heard = Heard()
    await hub_b.join(stream, heard)
    ra = a.new_ref()
    await joined(a, stream, ra, "ann", b"{}")
    assert set(await b.redis.read(stream)) == {ra}  # type: ignore[union-attr]
    assert a.beat is not None
    a.beat.cancel()  # process a stops dead: no heartbeat, no leave
    loop = asyncio.get_running_loop()
    died = loop.time()
    # Nobody sweeps yet, but readers stop seeing a's members once its deadline passes.
    # (Polled: the deadline passing is no event anyone could await.)
    async with asyncio.timeout(TIMEOUT):
        while await b.redis.read(stream):  # type: ignore[union-attr]  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    assert loop.time() - died < conf.get().PRESENCE_TTL + 0.3
    assert await hub_b.backend.client.hexists(roster_key(stream), ra)  # type: ignore[attr-defined]
    b.watch(+1)  # process b watches the roster: it heartbeats, and sweeps
    swept = await heard.until(lambda e: "ann" in e.get("leaves", {}))
    assert swept["leaves"] == {"ann": [ra]}
    bound = conf.get().PRESENCE_TTL + conf.get().PRESENCE_HEARTBEAT
    assert loop.time() - died < bound + 0.5
    assert await b.redis.read(stream) == {}  # type: ignore[union-attr]
    b.watch(-1)
    await b.close()


@pytest.mark.redis
async def test_a_swept_process_announces_its_members_again(redis_process: Any) -> None:
    """A process that stalled past its deadline was swept; when it wakes, it finds itself
    missing and re-announces its members, so the roster recovers."""
    (_hub_a, a), (hub_b, b) = redis_process(), redis_process()
    stream = f"ch:test:{random.randrange(1 << 30)}"
    heard = Heard()
    await hub_b.join(stream, heard)
    b.watch(+1)
    ra = a.new_ref()
    await joined(a, stream, ra, "ann", b"{}")
    assert a.beat is not None
    a.beat.cancel()
    await heard.until(lambda e: "ann" in e.get("leaves", {}))
    a._ensure_heartbeat()  # it wakes up
    back = await heard.until(lambda e: "ann" in e.get("joins", {}))
    assert list(back["joins"]["ann"]) == [ra]
    assert set(await b.redis.read(stream)) == {ra}  # type: ignore[union-attr]
    a.leave(stream, ra, "ann")
    await heard.until(lambda e: "ann" in e.get("leaves", {}))
    b.watch(-1)
    await a.close()
    await b.close()


# Redis outage -----------------------------------------------------------------------------


@pytest.fixture
async def outage(redis_hub: Any, caplog: Any) -> Any:
    """Sockets on a private Redis the test kills and restarts (it comes back empty). No
    ERROR record may be logged: an outage is a warning, not a traceback per event."""
    yield redis_hub
    redis_hub.start()  # no-op when it is up: pending writes must be able to finish
    await tracker_for(get_hub()).close()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.redis
async def test_subscribing_while_redis_is_down_answers_then_sends_the_roster(
    outage: Any, users: Any, request: Any
) -> None:
    """A presence `sub` during an outage is answered with what this process knows (the
    joiner included); when Redis returns the subscription is resynced and its roster
    converges on the truth, and the socket's other subscription lives on."""
    ann, bob = await users("ann", "bob")
    r = room(request)
    async with MizanCommunicator(user=ann) as a, MizanCommunicator(user=bob) as b:
        wa = await watch(a, "presence_room", room=r)
        feed = await b.subscribe("feed", topic=r)
        outage.kill()
        wb = await watch(b, "presence_room", room=r)
        assert str(bob.pk) in wb.users()
        await still_works(b)
        outage.start()
        await resyncs(b, {("sub", wb.sub)}, 10)
        await resyncs(b, {("sub", feed)}, 10)
        both = {str(ann.pk), str(bob.pk)}
        await wb.until(lambda s: set(s) == both)
        await wa.until(lambda s: set(s) == both)
        assert set(await PresenceRoomChannel.apresence(room=r)) == both
        await still_works(b)


@pytest.mark.redis
async def test_watchers_get_the_whole_roster_after_redis_returns(
    outage: Any, users: Any, request: Any
) -> None:
    """Subscribed before the outage: Redis comes back empty; every watcher is resynced and
    sent the roster again, Redis holds it again, and later changes flow as diffs."""
    ann, bob = await users("ann", "bob")
    r = room(request)
    both = {str(ann.pk), str(bob.pk)}
    async with MizanCommunicator(user=ann) as a, MizanCommunicator(user=bob) as b:
        wa = await watch(a, "presence_room", room=r)
        wb = await watch(b, "presence_room", room=r)
        await wa.until(lambda s: set(s) == both)
        outage.kill()
        await still_works(a)
        outage.start()
        await resyncs(a, {("sub", wa.sub)}, 10)
        await resyncs(b, {("sub", wb.sub)}, 10)
        frame = await wa.next()
        assert "state" in frame and set(frame["state"]) == both, frame  # never an empty room
        await wb.until(lambda s: set(s) == both)
        assert set(await PresenceRoomChannel.apresence(room=r)) == both
        await b.disconnect()
        await wa.until(lambda s: set(s) == {str(ann.pk)})


@pytest.mark.redis
async def test_joins_and_leaves_during_an_outage_reach_watchers_when_it_ends(
    outage: Any, users: Any, request: Any
) -> None:
    """One socket leaves and another joins while Redis is down: once it is back, every
    watcher's roster and Redis's show the joiner and not the leaver."""
    ann, bob, cat = await users("ann", "bob", "cat")
    r = room(request)
    async with MizanCommunicator(user=ann) as a, MizanCommunicator(user=bob) as b:
        wa = await watch(a, "presence_room", room=r)
        await watch(b, "presence_room", room=r)
        await wa.until(lambda s: len(s) == 2)
        outage.kill()
        await b.disconnect()
        async with MizanCommunicator(user=cat) as c:
            wc = await watch(c, "presence_room", room=r)
            outage.start()
            after = {str(ann.pk), str(cat.pk)}
            await wa.until(lambda s: set(s) == after)
            await wc.until(lambda s: set(s) == after)
            assert set(await PresenceRoomChannel.apresence(room=r)) == after


def test_redis_key_names_match_the_broker() -> None:
    """The sweep script builds position and channel names itself; they must be the broker's."""
    assert RedisBackend.key("s") == broker.KEY_PREFIX + "p:s"
    assert RedisBackend.channel("s") == broker.KEY_PREFIX + "c:s"
