"""Automatic invalidation over real sockets: who hears of a mutation, in what order, and what
server code (`invalidate`, `ainvalidate`, transactions) sends.

Two users and three sockets: ann in two tabs, bob in one. Absence is proven without sleeping:
a socket's frames leave in order, so once a `pong` arrives, any `inv` queued before it has
arrived too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.contrib.auth.models import User
from django.db import transaction
from django.test import AsyncClient

from mizan_channels import ainvalidate, client, invalidate, register
from mizan_channels.registry import registry
from mizan_channels.testing import MizanCommunicator
from tests.conftest import TIMEOUT
from tests.test_cache import use_backend
from tests.testapp import clients

pytestmark = pytest.mark.django_db(transaction=True)

MINE = {"ctx": "mine"}
BOARD = {"fn": "board"}
MINE_TOO = {"fn": "mine_too"}


@dataclass
class Room:
    ann: User
    bob: User
    ann1: MizanCommunicator
    ann2: MizanCommunicator
    bob1: MizanCommunicator

    @property
    def sockets(self) -> list[MizanCommunicator]:
        return [self.ann1, self.ann2, self.bob1]


@pytest.fixture
async def room() -> AsyncIterator[Room]:
    ann = await sync_to_async(User.objects.create_user)("ann", password="pw")
    bob = await sync_to_async(User.objects.create_user)("bob", password="pw")
    sockets = [
        MizanCommunicator(user=ann, timeout=TIMEOUT),
        MizanCommunicator(user=ann, timeout=TIMEOUT),
        MizanCommunicator(user=bob, timeout=TIMEOUT),
    ]
    for s in sockets:
        await s.connect()
    yield Room(ann, bob, *sockets)
    for s in sockets:
        await s.disconnect()


@pytest.fixture(params=["locmem", "redis"])
def backend(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    yield from use_backend(request, settings)


_ping_ids = iter(range(1, 10**9))


async def invs(socket: MizanCommunicator) -> list[dict[str, Any]]:
    """Every `inv` this socket received and nobody read yet, up to a ping round trip."""
    ping_id = next(_ping_ids)
    await socket.send_json_to({"t": "ping", "id": ping_id})
    out: list[dict[str, Any]] = []
    while True:
        frame = await socket.next_frame(
            lambda f: f["t"] == "inv" or (f["t"] == "pong" and f["id"] == ping_id)
        )
        if frame["t"] == "pong":
            return out
        out.append(frame)


def keys(frames: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [k for f in frames for k in f["keys"]]


async def call_in_order(socket: MizanCommunicator, fn: str) -> list[dict[str, Any]]:
    """Call `fn` and return every frame up to and including its reply, in arrival order."""
    call_id = next(_ping_ids)
    await socket.send_json_to({"t": "call", "id": call_id, "fn": fn, "args": {}})
    frames: list[dict[str, Any]] = []
    while not frames or frames[-1].get("id") != call_id:
        frames.append(
            await socket.next_frame(
                lambda f: f["t"] == "inv" or (f["t"] in ("ok", "err") and f["id"] == call_id)
            )
        )
    return frames


async def test_user_mutation_reaches_every_tab_of_that_user_only(room: Room) -> None:
    frames = await call_in_order(room.ann1, "touch_mine")
    assert [f["t"] for f in frames] == ["inv", "ok"]
    assert frames[0]["aud"] == "user" and frames[0]["keys"] == [MINE]
    other_tab = await invs(room.ann2)
    assert [(f["aud"], f["keys"], f["seq"]) for f in other_tab] == [
        ("user", [MINE], frames[0]["seq"])
    ]
    assert await invs(room.bob1) == []
    assert await invs(room.ann1) == []  # the fanned-out copy is not delivered twice


async def test_shared_key_reaches_every_socket(room: Room) -> None:
    frames = await call_in_order(room.ann1, "touch_board")
    assert [(f["t"], f.get("aud"), f.get("keys")) for f in frames] == [
        ("inv", "all", [BOARD]),
        ("ok", None, None),
    ]
    for socket in (room.ann2, room.bob1):
        got = await invs(socket)
        assert [(f["aud"], f["keys"], f["seq"]) for f in got] == [
            ("all", [BOARD], frames[0]["seq"])
        ]
    assert await invs(room.ann1) == []


async def test_caller_gets_each_key_once_before_ok(room: Room) -> None:
    frames = await call_in_order(room.ann1, "touch_both")  # affects ["mine", board]
    assert frames[-1]["t"] == "ok"
    before_ok = frames[:-1]
    assert sorted(keys(before_ok), key=str) == sorted([MINE, BOARD], key=str)
    assert {f["aud"] for f in before_ok} == {"user", "all"}
    assert await invs(room.ann1) == []
    assert keys(await invs(room.ann2)) in ([MINE, BOARD], [BOARD, MINE])
    assert keys(await invs(room.bob1)) == [BOARD]


async def test_a_key_named_twice_in_affects_is_sent_once(room: Room) -> None:
    # protocol.md: the caller receives exactly one `inv` for each key (and HTTP's `inv`
    # lists each once), however the declaration spells it.
    @client(websocket=True, affects=["mine", "mine", clients.board, clients.board])
    def touch_twice(request) -> bool:  # type: ignore[no-untyped-def]
        return True

    register(touch_twice, "touch_twice")
    try:
        frames = await call_in_order(room.ann1, "touch_twice")
        assert sorted(keys(frames[:-1]), key=str) == sorted([MINE, BOARD], key=str)
        http = AsyncClient()
        await http.aforce_login(room.ann)
        r = await http.post("/api/mizan/call/touch_twice", b"{}", content_type="application/json")
        assert r.json()["inv"] == [MINE, BOARD]
    finally:
        registry.functions.pop("touch_twice")
    for socket in room.sockets:
        await invs(socket)


async def test_failing_mutation_invalidates_nothing(room: Room, backend: str) -> None:
    http = AsyncClient()
    await http.aforce_login(room.ann)
    first = (await http.get("/api/mizan/ctx/mine")).json()
    frames = await call_in_order(room.ann1, "fail_mine")
    assert [f["t"] for f in frames] == ["err"]
    assert frames[0]["error"]["code"] == "server_error"
    for socket in room.sockets:
        assert await invs(socket) == []
    assert (await http.get("/api/mizan/ctx/mine")).json() == first  # cache kept too


async def test_socket_mutation_drops_the_cache_before_telling(room: Room, backend: str) -> None:
    ann_http, bob_http = AsyncClient(), AsyncClient()
    await ann_http.aforce_login(room.ann)
    await bob_http.aforce_login(room.bob)
    ann_before = (await ann_http.get("/api/mizan/ctx/mine")).json()["data"]["mine"]["n"]
    bob_before = (await bob_http.get("/api/mizan/ctx/mine")).json()["data"]
    await call_in_order(room.ann1, "touch_mine")
    # The refetch an `inv` triggers never reads the stale value; other users keep theirs.
    assert (await ann_http.get("/api/mizan/ctx/mine")).json()["data"]["mine"]["n"] == (
        ann_before + 1
    )
    assert (await bob_http.get("/api/mizan/ctx/mine")).json()["data"] == bob_before
    await invs(room.ann2)


async def test_http_mutation_returns_keys_and_tells_the_users_sockets(room: Room) -> None:
    http = AsyncClient()
    await http.aforce_login(room.ann)
    r = await http.post("/api/mizan/call/touch_mine", b"{}", content_type="application/json")
    assert r.json() == {"data": True, "inv": [MINE]}
    for socket in (room.ann1, room.ann2):
        assert [(f["aud"], f["keys"]) for f in await invs(socket)] == [("user", [MINE])]
    assert await invs(room.bob1) == []


async def test_invalidate_from_sync_code_reaches_everyone(room: Room) -> None:
    await sync_to_async(invalidate)("mine")
    for socket in room.sockets:
        assert [(f["aud"], f["keys"]) for f in await invs(socket)] == [("all", [MINE])]


async def test_invalidate_for_one_user(room: Room) -> None:
    await sync_to_async(invalidate)(clients.mine_too, user=room.ann)
    for socket in (room.ann1, room.ann2):
        assert [(f["aud"], f["keys"]) for f in await invs(socket)] == [("user", [MINE_TOO])]
    assert await invs(room.bob1) == []


async def test_invalidate_for_one_user_still_tells_everyone_of_shared_keys(room: Room) -> None:
    await sync_to_async(invalidate)("mine", clients.board, user=room.bob)
    assert keys(await invs(room.bob1)) in ([MINE, BOARD], [BOARD, MINE])
    for socket in (room.ann1, room.ann2):
        assert [(f["aud"], f["keys"]) for f in await invs(socket)] == [("all", [BOARD])]


async def test_ainvalidate_from_async_code(room: Room) -> None:
    await ainvalidate("mine", user=room.bob.pk)
    assert [(f["aud"], f["keys"]) for f in await invs(room.bob1)] == [("user", [MINE])]
    for socket in (room.ann1, room.ann2):
        assert await invs(socket) == []
    await ainvalidate(clients.board)
    for socket in room.sockets:
        assert [(f["aud"], f["keys"]) for f in await invs(socket)] == [("all", [BOARD])]


async def test_invalidate_in_a_transaction_waits_for_commit_and_coalesces(room: Room) -> None:
    seen_inside: list[list[dict[str, Any]]] = []

    def work() -> None:
        with transaction.atomic():
            User.objects.filter(pk=room.ann.pk).update(first_name="Ann")
            invalidate("mine", user=room.ann)
            invalidate(clients.mine_too, "mine", user=room.ann)
            invalidate("mine", user=room.ann)
            seen_inside.append(async_to_sync(invs)(room.ann1))  # before the commit

    await sync_to_async(work)()
    assert seen_inside == [[]]
    for socket in (room.ann1, room.ann2):
        got = await invs(socket)
        assert len(got) == 1, got  # one event for the whole transaction
        assert got[0]["keys"] == [MINE, MINE_TOO]  # each key once
    assert await invs(room.bob1) == []


async def test_invalidate_in_a_rolled_back_transaction_sends_nothing(room: Room) -> None:
    def work() -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            invalidate("mine", user=room.ann)
            invalidate("mine")
            raise RuntimeError("rollback")
        with transaction.atomic():  # the next transaction starts clean
            invalidate(clients.board)

    await sync_to_async(work)()
    for socket in room.sockets:
        assert [(f["aud"], f["keys"]) for f in await invs(socket)] == [("all", [BOARD])]


def test_invalidate_needs_a_target() -> None:
    with pytest.raises(ValueError, match="at least one"):
        invalidate()


def test_invalidating_an_unregistered_function_explains_the_fix() -> None:
    from mizan_channels import ConfigurationError, client

    @client
    def stray(request: Any) -> int:
        return 1

    with pytest.raises(ConfigurationError, match="register"):
        invalidate(stray)


async def anonymous_socket(session_key: str | None) -> MizanCommunicator:
    headers = [(b"cookie", f"sessionid={session_key}".encode())] if session_key else []
    socket = MizanCommunicator(headers=headers, timeout=TIMEOUT)
    await socket.connect()
    return socket


async def test_anonymous_session_tabs_share_their_invalidations(room: Room) -> None:
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    await session.aset("visited", True)
    await session.asave()
    tab1, tab2 = (
        await anonymous_socket(session.session_key),
        await anonymous_socket(session.session_key),
    )
    try:
        frames = await call_in_order(tab1, "touch_mine")
        assert [(f["t"], f.get("aud")) for f in frames] == [("inv", "session"), ("ok", None)]
        assert [(f["aud"], f["keys"]) for f in await invs(tab2)] == [("session", [MINE])]
        for socket in room.sockets:
            assert await invs(socket) == []
    finally:
        await tab1.disconnect()
        await tab2.disconnect()


async def test_anonymous_without_session_tells_only_the_calling_socket(room: Room) -> None:
    lone, other = await anonymous_socket(None), await anonymous_socket(None)
    try:
        frames = await call_in_order(lone, "touch_mine")
        assert [(f["t"], f.get("aud"), f.get("keys")) for f in frames] == [
            ("inv", "conn", [MINE]),
            ("ok", None, None),
        ]
        for socket in [other, *room.sockets]:
            assert await invs(socket) == []
    finally:
        await lone.disconnect()
        await other.disconnect()


async def test_three_sockets_over_the_redis_broker(redis_fanout: None, room: Room) -> None:
    frames = await call_in_order(room.ann1, "touch_both")
    assert sorted(keys(frames[:-1]), key=str) == sorted([MINE, BOARD], key=str)
    ann2 = [await room.ann2.next_frame(lambda f: f["t"] == "inv") for _ in range(2)]
    assert sorted(keys(ann2), key=str) == sorted([MINE, BOARD], key=str)
    bob = await room.bob1.next_frame(lambda f: f["t"] == "inv")
    assert (bob["aud"], bob["keys"]) == ("all", [BOARD])
    # ann's own copies came back through Redis in the same dispatch as ann2's, and were
    # recognised by position: not delivered twice.
    assert await invs(room.ann1) == []
    await ainvalidate("mine", user=room.bob)
    bob = await room.bob1.next_frame(lambda f: f["t"] == "inv")
    assert (bob["aud"], bob["keys"]) == ("user", [MINE])
