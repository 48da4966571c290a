"""Presence end to end: two real daphne processes sharing a real Redis, users signed in with
MWTs, the Python client over real sockets. Join, leave, tab close across processes, and a
SIGKILLed process whose members must vanish within MIZAN_PRESENCE_TTL + HEARTBEAT."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mizan_channels.presence import apply_diff
from mizan_channels.remote import Client
from tests.conftest import TIMEOUT
from tests.servers import ROOT, Daphne

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

SETTINGS = "tests.e2e.presence_settings"
TTL, HEARTBEAT = 2.0, 0.5
#: The documented bound for a crashed process's members, with these settings.
BOUND = TTL + HEARTBEAT


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[str, dict[str, tuple[str, str]]]]:
    """A migrated SQLite file for the daphne processes, and users ann and bob: name ->
    (pk, MWT)."""
    with tempfile.TemporaryDirectory(prefix="mizan-presence-") as tmp:
        db = str(Path(tmp) / "db.sqlite3")
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "MIZAN_E2E_DB": db,
            "DJANGO_SETTINGS_MODULE": SETTINGS,
        }
        run = {"env": env, "cwd": ROOT, "check": True, "timeout": 120}
        subprocess.run([sys.executable, "-m", "django", "migrate", "--noinput", "-v", "0"], **run)
        code = (
            "import django, json; django.setup()\n"
            "from django.contrib.auth.models import User\n"
            "from mizan_channels import mwt\n"
            "out = {}\n"
            "for n in ('ann', 'bob'):\n"
            "    u = User.objects.create_user(n)\n"
            "    out[n] = [str(u.pk), mwt.issue(u)[0]]\n"
            "print(json.dumps(out))\n"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, **run)
        users = {k: (v[0], v[1]) for k, v in json.loads(done.stdout).items()}
        yield db, users


def server(db: str, redis: str) -> Daphne:
    return Daphne(
        env={
            "MIZAN_E2E_DB": db,
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "MIZAN_E2E_REDIS": redis,
            "MIZAN_E2E_PRESENCE_TTL": str(TTL),
            "MIZAN_E2E_PRESENCE_HEARTBEAT": str(HEARTBEAT),
        }
    )


class Tab(Client):
    """The Python client, keeping each subscription's roster from its `ok` and `presence`
    frames (it ignores presence frames otherwise)."""

    def __init__(self, url: str, token: str | None = None) -> None:
        super().__init__(url, token=token, reconnect=False, timeout=TIMEOUT)
        self.rosters: dict[int, dict[str, dict[str, Any]]] = {}
        self.changed = asyncio.Event()

    async def _dispatch(self, frame: dict[str, Any], hello: Any) -> None:
        t = frame.get("t")
        data = frame.get("data")
        if t == "ok" and isinstance(data, dict) and "presence" in data:
            self.rosters[frame["id"]] = {}
            apply_diff(self.rosters[frame["id"]], {"state": data["presence"]["state"]})
            self.changed.set()
        elif t == "presence":
            apply_diff(self.rosters.setdefault(frame["sub"], {}), frame)
            self.changed.set()
        await super()._dispatch(frame, hello)

    async def join(self, room: str) -> int:
        sub = await self.subscribe("presence_room", room=room)
        return sub.id

    async def until(
        self, sub: int, done: Callable[[dict[str, dict[str, Any]]], bool], timeout: float
    ) -> dict[str, dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while not done(self.rosters.get(sub, {})):
                self.changed.clear()
                await self.changed.wait()
        return self.rosters[sub]


def tab(d: Daphne, token: str) -> Tab:
    return Tab(d.ws_url + "/ws/mizan/", token=token)


def conns(roster: dict[str, dict[str, Any]], key: str) -> int:
    return len(roster.get(key, {}))


async def test_join_leave_and_tabs_across_two_processes(
    world: tuple[str, dict[str, tuple[str, str]]], redis_url: str
) -> None:
    db, users = world
    (ann, ann_token), (bob, bob_token) = users["ann"], users["bob"]
    room = f"e2e-{random.randrange(1 << 30)}"
    with server(db, redis_url) as one, server(db, redis_url) as two:
        async with tab(one, ann_token) as a1, tab(two, bob_token) as b:
            s1 = await a1.join(room)
            sb = await b.join(room)
            assert set(b.rosters[sb]) == {ann, bob}  # the roster in `ok` spans both processes
            await a1.until(s1, lambda r: bob in r, TIMEOUT)
            # ann opens a second tab, on the other process: still one user, two connections.
            async with tab(two, ann_token) as a2:
                await a2.join(room)
                await b.until(sb, lambda r: conns(r, ann) == 2, TIMEOUT)
                assert len(b.rosters[sb]) == 2
                members = await b.call("presence_room_members", room=room)
                assert members == {ann: ["ann", "ann"], bob: ["bob"]}
            # That tab closed: ann is still here, once.
            await b.until(sb, lambda r: conns(r, ann) == 1, TIMEOUT)
            # bob leaves the room (unsubscribes) on process two; ann sees it on process one.
            await b.request({"t": "unsub", "sub": sb})
            await a1.until(s1, lambda r: bob not in r, TIMEOUT)
            assert await a1.call("presence_room_members", room=room) == {ann: ["ann"]}


async def test_a_killed_process_members_vanish_within_the_bound(
    world: tuple[str, dict[str, tuple[str, str]]], redis_url: str
) -> None:
    db, users = world
    (ann, ann_token), (bob, bob_token) = users["ann"], users["bob"]
    room = f"kill-{random.randrange(1 << 30)}"
    with server(db, redis_url) as one, server(db, redis_url) as two:
        async with tab(one, ann_token) as a:
            sa = await a.join(room)
            doomed = [tab(two, bob_token), tab(two, bob_token), tab(two, ann_token)]
            for t in doomed:
                await t.open()
                await t.join(room)
            await a.until(sa, lambda r: conns(r, bob) == 2 and conns(r, ann) == 2, TIMEOUT)
            two.terminate(signal.SIGKILL)
            killed = time.monotonic()
            roster = await a.until(
                sa, lambda r: bob not in r and conns(r, ann) == 1, BOUND + TIMEOUT
            )
            elapsed = time.monotonic() - killed
            logging.getLogger(__name__).info(
                "gone %.2fs after SIGKILL (bound %.1fs)", elapsed, BOUND
            )
            assert list(roster) == [ann]
            # Loop lag and the sweeper's own heartbeat phase get a second of slack.
            assert elapsed <= BOUND + 1.0, f"members outlived the bound: {elapsed:.2f}s"
            assert await a.call("presence_room_members", room=room) == {ann: ["ann"]}
            for t in doomed:
                await t.close()


async def test_a_flood_over_two_processes_converges_on_both(
    world: tuple[str, dict[str, tuple[str, str]]], redis_url: str
) -> None:
    """Anonymous sockets (one member each) joining and leaving at once on both processes:
    each side's roster, rebuilt from frames alone, ends equal to the server's."""
    db, users = world
    (ann, ann_token), (bob, bob_token) = users["ann"], users["bob"]
    room = f"flood-{random.randrange(1 << 30)}"
    with server(db, redis_url) as one, server(db, redis_url) as two:
        async with tab(one, ann_token) as wa, tab(two, bob_token) as wb:
            sa, sb = await wa.join(room), await wb.join(room)
            crowd = [Tab((one, two)[i % 2].ws_url + "/ws/mizan/") for i in range(30)]
            await asyncio.gather(*(c.open() for c in crowd))
            await asyncio.gather(*(c.join(room) for c in crowd[:20]))
            await asyncio.gather(
                *(c.close() for c in crowd[:12]), *(c.join(room) for c in crowd[20:])
            )
            members = await wa.call("presence_room_members", room=room)
            assert len(members) == 2 + 18
            for w, s in ((wa, sa), (wb, sb)):
                roster = await w.until(s, lambda r: set(r) == set(members), TIMEOUT)
                assert all(len(refs) == 1 for refs in roster.values())
            for c in crowd[12:]:
                await c.close()
            for w, s in ((wa, sa), (wb, sb)):
                await w.until(s, lambda r: set(r) == {ann, bob}, TIMEOUT)
