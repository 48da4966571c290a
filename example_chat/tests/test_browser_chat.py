"""The example chat in real headless Chromium against real daphne processes.

Each test drives pages the way a person would (log in, type, click) and waits for what the
page shows, with the suite's timeout; nothing sleeps. Separate browser contexts are separate
people (their own cookies); two pages of one context are one person's two tabs.
"""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import time
from pathlib import Path

import pytest

from tests.servers import ROOT, Daphne

from .helpers import APP, Browsers, Tab, chat_env, post, wait_live, wait_message

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SCREENSHOT = ROOT / "docs" / "screenshot.png"
logger = logging.getLogger(__name__)


def test_two_users_see_each_others_messages_live(chat_server: Daphne, people: Browsers) -> None:
    ann = people.login(chat_server, "ann", form=True)
    bob = people.login(chat_server, "bob", form=True)
    assert ann.page.inner_text("#me") == "ann"

    post(ann, "hello bob")
    wait_message(bob, "hello bob")
    post(bob, "hi ann, how are you?")
    wait_message(ann, "hi ann, how are you?")

    # Typing goes through the TypingChannel with the runtime's `send`.
    bob.page.fill("#compose input[name=text]", "fine, and")
    ann.page.locator("#typing", has_text="bob is typing").wait_for()

    assert ann.messages() == bob.messages() == ["hello bob", "hi ann, how are you?"]
    authors = ann.page.locator("#messages li").evaluate_all("els => els.map(e => e.dataset.user)")
    assert authors == ["ann", "bob"]

    if os.environ.get("MIZAN_UPDATE_SCREENSHOT") == "1" or not SCREENSHOT.exists():
        post(ann, "great! mizan pushes this to every tab, live")
        wait_message(bob, "mizan pushes this")
        room_count(ann, "lobby", "3")
        ann.page.locator("#online[data-users='ann,bob']").wait_for()  # presence in the header
        SCREENSHOT.parent.mkdir(exist_ok=True)
        ann.page.screenshot(path=str(SCREENSHOT))
        assert SCREENSHOT.stat().st_size > 10_000


def room_count(tab: Tab, slug: str, count: str) -> None:
    tab.page.locator(f"#rooms a[data-slug={slug}] .count", has_text=count).wait_for()


def test_a_user_not_allowed_in_a_room_sees_nothing_of_it(
    chat_server: Daphne, people: Browsers
) -> None:
    ann = people.login(chat_server, "ann", room="ops")
    bob = people.login(chat_server, "bob", room="hall")
    assert "ops" in ann.rooms()
    assert "ops" not in bob.rooms()
    assert "Ops" not in bob.page.content()  # not in the list, nor in the hydrated contexts

    post(ann, "the secret plan")
    wait_message(ann, "the secret plan")
    # A barrier: ann's next message, in the hall, is published after the secret one; once
    # bob has it, the secret push has long been delivered to whoever was subscribed.
    ann.page.click("#rooms a[data-slug=hall]")
    ann.page.locator("#room-title", has_text="Hall").wait_for()
    post(ann, "meanwhile in the hall")
    wait_message(bob, "meanwhile in the hall")
    assert bob.messages() == ["meanwhile in the hall"]

    # Opening it by address shows the same refusal as a room that does not exist.
    bob.page.evaluate("location.hash = 'ops'")
    bob.page.locator("#room-error[data-code=forbidden]").wait_for()
    assert bob.messages() == []
    codes = bob.eval(
        """async () => {
            const m = chat.mizan, out = {};
            const code = (p) => p.then(() => "ok", (e) => e.code);
            for (const room of ["ops", "no-such-room"]) {
                out[room] = [
                    await code(m.call("room_messages", { room })),
                    await code(m.call("post_message", { room, text: "let me in" })),
                    await code(m.subscribe("chat", { room }).ready),
                    await code(m.subscribe("typing", { room }).ready),
                ];
            }
            return out;
        }"""
    )
    assert codes == {"ops": ["forbidden"] * 4, "no-such-room": ["forbidden"] * 4}
    # Nothing bob tried reached the room.
    ann.page.click("#rooms a[data-slug=ops]")
    wait_message(ann, "the secret plan")
    assert ann.messages() == ["the secret plan"]
    room_count(ann, "ops", "1")


def test_a_mutation_in_one_tab_refreshes_the_room_list_in_the_other(
    chat_server: Daphne, people: Browsers
) -> None:
    ann = people.person()
    first = people.login(chat_server, "ann", context=ann)
    second = people.login(chat_server, "ann", room="random", context=ann)
    bob = people.login(chat_server, "bob", room="random")
    # First paint came from the hydrated contexts: no context fetch yet.
    assert second.fetched("/api/mizan/ctx/") == 0
    assert "design-review" not in second.rooms()

    # The Django form, submitted through mizan (create_room.submit over HTTP with CSRF).
    first.page.fill("#room-form input[name=title]", "Design review")
    first.page.click("#room-form button[type=submit]")
    for tab in (second, bob):
        tab.page.locator("#rooms a[data-slug=design-review]").wait_for()
    assert second.fetched("/api/mizan/ctx/rooms") >= 1
    first.page.locator("#room-title", has_text="Design review").wait_for()

    # A message is a mutation too: it invalidates "rooms", whose counts every tab refetches.
    post(first, "first!")
    room_count(second, "design-review", "1")
    room_count(bob, "design-review", "1")

    # The form's own validation, shown beside the field, changes nothing.
    first.page.fill("#room-form input[name=title]", "Design Review")
    first.page.click("#room-form button[type=submit]")
    first.page.locator("#room-form .errorlist li", has_text="exists").wait_for()
    first.page.fill("#room-form input[name=title]", "")
    first.page.click("#room-form button[type=submit]")
    first.page.locator("#room-form .errorlist li", has_text="required").wait_for()
    assert second.rooms().count("design-review") == 1


def test_pages_reconnect_and_resubscribe_when_the_server_restarts(
    chat_db: Path, people: Browsers
) -> None:
    server = Daphne(app=APP, env=chat_env(chat_db))
    server.start()
    try:
        ann = people.login(server, "ann")
        bob = people.login(server, "bob")
        post(ann, "before the restart")
        wait_message(bob, "before the restart")

        server.terminate()
        for tab in (ann, bob):
            tab.page.wait_for_function("chat.mizan.state !== 'open'")
            assert tab.page.get_attribute("#status", "data-state") in {"reconnecting", "connecting"}
        # Written while every page is away (straight into the database, as another process
        # would): the pages can only learn of it by resyncing after they reconnect.
        with sqlite3.connect(chat_db) as db:
            db.execute(
                "INSERT INTO chat_message (room_id, author_id, text, created) SELECT r.id, u.id,"
                " 'written while you were away', datetime('now') FROM chat_room r, auth_user u"
                " WHERE r.slug = 'lobby' AND u.username = 'bob'"
            )

        server.start()  # the same port
        started = time.monotonic()
        for tab in (ann, bob):
            wait_live(tab, connections=2)
        logger.info("pages live again %.2fs after the server", time.monotonic() - started)
        wait_message(ann, "written while you were away")

        post(bob, "after the restart")
        wait_message(ann, "after the restart")
        post(ann, "and back")
        wait_message(bob, "and back")
        expected = [
            "before the restart",
            "written while you were away",
            "after the restart",
            "and back",
        ]
        assert ann.messages() == expected
        assert bob.messages() == expected
    finally:
        server.terminate()


def test_two_daphne_processes_share_one_chat_through_redis(
    chat_db: Path, redis_url: str, people: Browsers
) -> None:
    # A fresh cache secret: cached values of earlier runs (same Redis) can't be read.
    env = chat_env(chat_db, REDIS_URL=redis_url, MIZAN_CACHE_SECRET=secrets.token_urlsafe(48))
    with Daphne(app=APP, env=env) as one, Daphne(app=APP, env=env) as two:
        ann = people.login(one, "ann")
        bob = people.login(two, "bob")
        post(ann, "from process one")
        wait_message(bob, "from process one")
        post(bob, "from process two")
        wait_message(ann, "from process two")
        # A shared invalidation crosses processes too: a room made on two shows up on one.
        bob.page.fill("#room-form input[name=title]", "Across processes")
        bob.page.click("#room-form button[type=submit]")
        ann.page.locator("#rooms a[data-slug=across-processes]").wait_for()
        room_count(ann, "lobby", "2")
