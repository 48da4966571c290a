"""Presence in the example chat: who has a room open, shown in its header from the
TypingChannel's roster, in real Chromium and through the Python client against real daphne;
and the runtime's handling of presence frames in the orders a server may send them.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from mizan_channels.remote import Client
from tests.conftest import TIMEOUT
from tests.servers import Daphne

from .helpers import Browsers, Seeded, Tab, wait_live

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

MODULE = "/static/mizan_channels/mizan.js"


def online(tab: Tab, users: str) -> None:
    """Until the room header lists exactly `users` ("ann,bob")."""
    tab.page.locator(f"#online[data-users='{users}']").wait_for()


def connections(tab: Tab) -> dict[str, int]:
    """username -> connections, from the open room's roster as the runtime keeps it."""
    return tab.eval(  # type: ignore[no-any-return]
        """() => Object.fromEntries(Object.values(chat.room().typing.roster).map(
            (refs) => [Object.values(refs)[0].username, Object.keys(refs).length]))"""
    )


def test_people_in_a_room_see_who_is_online_and_a_closed_tab_leaves(
    chat_server: Daphne, people: Browsers
) -> None:
    ann_person = people.person()
    ann = people.login(chat_server, "ann", room="porch", context=ann_person)
    online(ann, "ann")
    bob = people.login(chat_server, "bob", room="porch")
    online(bob, "ann,bob")
    online(ann, "ann,bob")
    assert bob.page.inner_text("#online") == "online: ann, bob"

    # ann's second tab: still one ann, with two connections.
    ann2 = people.login(chat_server, "ann", room="porch", context=ann_person)
    bob.page.wait_for_function(
        """() => Object.values(chat.room().typing.roster).some(
            (refs) => Object.keys(refs).length === 2)"""
    )
    assert connections(bob) == {"ann": 2, "bob": 1}
    online(bob, "ann,bob")

    ann2.page.close()
    bob.page.wait_for_function(
        "() => Object.values(chat.room().typing.roster).every((r) => Object.keys(r).length === 1)"
    )
    online(bob, "ann,bob")

    # Leaving the room (another room opened) and closing the tab both take ann off the list.
    ann.page.click("#rooms a[data-slug=hall]")
    online(bob, "bob")
    online(ann, "ann")  # the hall's roster now
    ann.page.click("#rooms a[data-slug=porch]")
    online(bob, "ann,bob")
    ann.page.close()
    online(bob, "bob")
    assert connections(bob) == {"bob": 1}


def test_the_python_client_keeps_the_roster_and_shares_positions_with_messages(
    chat_server: Daphne, people: Browsers, seeded: Seeded
) -> None:
    ann = people.login(chat_server, "ann", room="stoop")
    online(ann, "ann")

    async def bob() -> dict[str, Any]:
        url = chat_server.ws_url + "/ws/mizan/"
        headers = {"Cookie": f"sessionid={seeded.sessions['bob']}"}
        async with Client(url, headers=headers, reconnect=False, timeout=TIMEOUT) as c:
            sub = await c.subscribe("typing", room="stoop")
            assert sub.roster is not None
            names = {refs[next(iter(refs))]["username"] for refs in sub.roster.values()}
            changes: list[set[str]] = []
            sub.on_presence = lambda roster: changes.append(
                {next(iter(refs.values()))["username"] for refs in roster.values()}
            )
            # A second connection of bob: the roster lists bob once, with two refs.
            async with Client(url, headers=headers, reconnect=False, timeout=TIMEOUT) as c2:
                await c2.subscribe("typing", room="stoop")
                roster = await sub.wait_roster(
                    lambda r: any(len(refs) == 2 for refs in r.values()), TIMEOUT
                )
                two = sorted(len(refs) for refs in roster.values())
            await sub.wait_roster(lambda r: all(len(refs) == 1 for refs in r.values()), TIMEOUT)
            # Presence and messages share the stream's positions: a message after the
            # presence changes continues from them, with no gap the client could mistake.
            before = sub.seq
            await sub.send({"typing": True})
            message = await sub.next(TIMEOUT)
            return {
                "names": names,
                "two": two,
                "changes": changes,
                "message": message,
                "seq": (before, sub.seq),
            }

    # Its own thread: Playwright's sync API already runs an event loop in this one.
    with ThreadPoolExecutor(1) as pool:
        out = pool.submit(asyncio.run, asyncio.wait_for(bob(), TIMEOUT * 4)).result()
    assert out["names"] == {"ann", "bob"}
    assert out["two"] == [1, 2]
    assert out["changes"] and out["changes"][-1] == {"ann", "bob"}
    assert out["message"] == {"user": "bob", "typing": True}
    before, after = out["seq"]
    assert before >= 2 and after == before + 1
    ann.page.locator("#typing", has_text="bob is typing").wait_for()
    online(ann, "ann")  # bob's connections closed with the client


def test_the_runtime_applies_presence_frames_in_every_order_a_server_sends(
    chat_server: Daphne, people: Browsers
) -> None:
    """A scripted socket stands in for the server, to send orders that real races produce
    only sometimes: messages before the `ok`, a roster ahead of the messages, a gap, and a
    `state` after a resync."""
    tab = people.tab(people.person(), f"{chat_server.url}/login/")
    out = tab.eval(
        """async (module) => {
            const M = await import(module);
            class Scripted {
                constructor() {
                    Scripted.last = this;
                    this.sent = [];
                    setTimeout(() => this.push({ t: "hello", v: 1, conn: "c", epoch: "e" }));
                }
                send(text) { this.sent.push(JSON.parse(text)); }
                close() {}
                // Each frame is a task of its own, as a browser delivers them.
                push(frame) {
                    this.onmessage({ data: JSON.stringify(frame) });
                    return new Promise((ok) => setTimeout(ok));
                }
            }
            const m = new M.Mizan({ url: "ws://scripted/", WebSocket: Scripted, heartbeatMs: 0 });
            await new Promise((ok) => m.onState((s) => s === "open" && ok()));
            const ws = Scripted.last, events = [];
            const meta = (n) => ({ id: n, username: { 1: "ann", 2: "bob", 3: "cat" }[n] });
            const sub = m.subscribe("typing", { room: "x" }, {
                onMessage: (d, i) => events.push(["msg", i.seq]),
                onResync: (i) => events.push(["resync", i.reason]),
                onPresence: (r, i) => events.push(["presence", Object.keys(r).join(","),
                    i.joined.join(","), i.left.join(","), i.reset]),
            });
            const first = ws.sent.at(-1).id;
            // A message overtakes the `ok`, whose roster already folds in positions 12-13.
            await ws.push({ t: "msg", sub: first, seq: 11, data: {} });
            await ws.push({ t: "ok", id: first, data: { sub: first, epoch: "e", seq: 10,
                presence: { seq: 13, state: { 1: { r1: meta(1) } } } } });
            await ws.push({ t: "presence", sub: first, seq: 14, joins: { 2: { r2: meta(2) } } });
            await ws.push({ t: "msg", sub: first, seq: 15, data: {} });
            await ws.push({ t: "presence", sub: first, seq: 16, joins: { 2: { r2b: meta(2) } } });
            await ws.push({ t: "presence", sub: first, seq: 17, leaves: { 2: ["r2", "r2b"] } });
            const refsBeforeGap = Object.keys(sub.roster).length;
            // Position 18 never comes: the roster may be wrong, so it is read again on a new
            // subscription before the old one is released (one connection: no flicker).
            await ws.push({ t: "presence", sub: first, seq: 19, joins: { 3: { r3: meta(3) } } });
            const again = ws.sent.at(-1);
            await ws.push({ t: "msg", sub: first, seq: 20, data: {} });  // the old id: ignored
            await ws.push({ t: "ok", id: again.id, data: { sub: again.id, epoch: "e", seq: 20,
                presence: { seq: 20, state: { 1: { r1: meta(1) }, 3: { r3: meta(3) } } } } });
            const released = ws.sent.at(-1);
            await ws.push({ t: "msg", sub: again.id, seq: 21, data: {} });
            // A resync: a `state` frame follows it, then diffs continue in the new epoch.
            await ws.push({ t: "resync", sub: again.id, epoch: "e2" });
            await ws.push({ t: "msg", sub: again.id, seq: 3, data: {} });
            await ws.push({ t: "presence", sub: again.id, seq: 2, state: { 1: { r1: meta(1) } } });
            await ws.push({ t: "presence", sub: again.id, seq: 4, joins: { 2: { r2: meta(2) } } });
            // Unsubscribed before its `ok`: the server's subscription is ended when it comes.
            const quick = m.subscribe("typing", { room: "y" });
            const quickId = ws.sent.at(-1).id;
            quick.unsubscribe();
            await ws.push({ t: "ok", id: quickId, data: { sub: quickId, epoch: "e", seq: 0,
                presence: { seq: 0, state: {} } } });
            const quickUnsub = ws.sent.at(-1);
            const plain = m.subscribe("chat", { room: "z" });
            const plainId = ws.sent.at(-1).id;
            await ws.push({ t: "ok", id: plainId, data: { sub: plainId, epoch: "e", seq: 0 } });
            await plain.ready;
            m.close();
            return { events, refsBeforeGap, again, released, quickUnsub, first,
                     roster: sub.roster, plainRoster: plain.roster,
                     applied: M.applyPresence(
                         { 1: { a: 1 } }, { leaves: { 1: ["a"] }, joins: { 2: { b: 2 } } }) };
        }""",
        MODULE,
    )
    first = out["first"]
    assert out["events"] == [
        ["msg", 11],
        ["presence", "1", "1", "", True],
        ["presence", "1,2", "2", "", False],  # 14 after 11: 12-13 are in the roster, no gap
        ["msg", 15],
        ["presence", "1,2", "", "", False],  # bob's second connection
        ["presence", "1", "", "2", False],  # bob's last connection left
        ["presence", "1,3", "3", "", False],
        ["presence", "1,3", "", "", True],  # the roster read again
        ["resync", "gap"],  # once, when the new subscription stands
        ["msg", 21],
        ["resync", "resync"],
        ["msg", 3],
        ["presence", "1", "", "3", True],
        ["presence", "1,2", "2", "", False],
    ]
    assert out["refsBeforeGap"] == 1
    assert out["again"]["t"] == "sub" and "since" not in out["again"]
    assert out["released"] == {"t": "unsub", "sub": first, "id": out["released"]["id"]}
    assert out["quickUnsub"]["t"] == "unsub" and out["quickUnsub"]["sub"] != first
    assert list(out["roster"]) == ["1", "2"]
    assert out["plainRoster"] is None
    assert out["applied"] == {"2": {"b": 2}}


def test_a_reconnected_page_takes_the_roster_of_its_new_subscription(
    chat_server: Daphne, people: Browsers
) -> None:
    """While a socket is away its page misses diffs; the `ok` of the resubscription carries
    the roster as it is now, and replaces the old one whole."""
    ann = people.login(chat_server, "ann", room="stoop")
    online(ann, "ann")
    ann.eval(
        """() => {
            const typing = chat.room().typing, show = typing.handlers.onPresence;
            window.resets = [];
            typing.handlers.onPresence = (roster, info) => {
                resets.push([info.reset, Object.keys(roster).length]);
                show(roster, info);
            };
            chat.mizan._ws.close();  // dropped from the page's side; the runtime reconnects
        }"""
    )
    wait_live(ann, connections=2)
    ann.page.wait_for_function("() => resets.some(([reset]) => reset)")
    assert ann.eval("resets")[0] == [True, 1]
    online(ann, "ann")
