"""The chat's React page (example_chat/react/main.tsx), built from the client generated from
the live registry, in real headless Chromium against a real daphne.

The session builds it the way a developer does (`example_chat/react/build.py`: the management
command generates the client, strict `tsc` checks main.tsx against it, esbuild bundles page,
client, runtime and React into one module), so these tests fail when the generated hooks, the
IR or the server stop agreeing. Waiting is on what the pages show; nothing sleeps.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from example_chat.react import build as react_build
from tests.conftest import need
from tests.servers import Daphne

from .helpers import APP, Browsers, Seeded, Tab, chat_env, post, wait_message

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="session")
def react_build_dir(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scratch directory of one build (generated client, main.tsx, tsconfig) and its
    bundle in `dist/`."""
    reason = react_build.missing_toolchain()
    if reason:
        need(reason)
    work = tmp_path_factory.mktemp("react")
    react_build.build(dist=work / "dist", work=work, check=True, env=chat_env(seeded.db))
    return work


@pytest.fixture(scope="module")
def react_server(
    seeded: Seeded, react_build_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Daphne]:
    db = tmp_path_factory.mktemp("react-db") / "chat.sqlite3"
    shutil.copyfile(seeded.db, db)
    env = chat_env(db, CHAT_REACT_DIST=str(react_build_dir / "dist"))
    server = Daphne(app=APP, env=env)
    server.start()
    try:
        yield server
    finally:
        server.terminate()


def open_react(people: Browsers, server: Daphne, username: str, room: str) -> Tab:
    """A new person signed in as `username` (the seeded session) on /react/#room, once live."""
    context = people.person()
    context.add_cookies(
        [{"name": "sessionid", "value": people.sessions[username], "url": server.url}]
    )
    tab = people.tab(context, f"{server.url}/react/#{room}")
    tab.page.locator("#status[data-state=open]").wait_for()
    tab.page.locator(f"#me:text-is('{username}')").wait_for()
    return tab


def count(tab: Tab, slug: str) -> str:
    return str(tab.page.inner_text(f"#rooms a[data-slug='{slug}'] .count"))


def test_main_tsx_is_held_to_the_generated_types(react_build_dir: Path) -> None:
    """The build's tsc has teeth: a field post_message doesn't take fails it, by name."""
    main = react_build_dir / "main.tsx"
    good = main.read_text()
    bad = good.replace("post.mutate({ room, text })", "post.mutate({ room, body: text })")
    assert bad != good, "main.tsx no longer calls post.mutate({ room, text }): update this test"
    main.write_text(bad)
    try:
        with pytest.raises(react_build.BuildError, match="body"):
            react_build.typecheck(react_build_dir)
    finally:
        main.write_text(good)
    react_build.typecheck(react_build_dir)


def test_two_users_chat_live_on_the_react_page(react_server: Daphne, people: Browsers) -> None:
    ann = open_react(people, react_server, "ann", "hall")
    bob = open_react(people, react_server, "bob", "hall")
    before = count(bob, "hall")

    post(ann, "hello from react")
    wait_message(bob, "hello from react")
    post(bob, "hi ann, typed end to end")
    wait_message(ann, "hi ann, typed end to end")
    assert ann.messages() == bob.messages() == ["hello from react", "hi ann, typed end to end"]
    authors = ann.page.locator("#messages li").evaluate_all("els => els.map(e => e.dataset.user)")
    assert authors == ["ann", "bob"]

    # post_message affects "rooms": the shared context refetches in every tab.
    ann.page.locator("#rooms a[data-slug='hall'] .count", has_text=str(int(before) + 2)).wait_for()
    bob.page.locator("#rooms a[data-slug='hall'] .count", has_text=str(int(before) + 2)).wait_for()

    # The TypingChannel: its presence roster (typed metadata) and `send`.
    ann.page.locator("#online[data-users='ann,bob']").wait_for()
    bob.page.fill("#compose input[name=text]", "one more")
    ann.page.locator("#typing", has_text="bob is typing").wait_for()

    # A fresh page gets the room's history (fetched once its channel is open).
    again = people.tab(bob.page.context, f"{react_server.url}/react/#hall")
    wait_message(again, "hi ann, typed end to end")
    assert again.messages() == ["hello from react", "hi ann, typed end to end"]

    # Generated from this server's registry: the hello frame's IR digest matches.
    assert ann.page.locator("#version-mismatch").count() == 0


def test_a_new_room_reaches_the_other_page(react_server: Daphne, people: Browsers) -> None:
    ann = open_react(people, react_server, "ann", "porch")
    bob = open_react(people, react_server, "bob", "porch")
    assert "garden-party" not in bob.rooms()

    # Django's own rule, from the server: the form's error lands under its field.
    ann.page.fill("#room-title-input", "Lobby")
    ann.page.click("#room-form button[type=submit]")
    ann.page.locator("#room-form [data-for=title] li", has_text="exists").wait_for()

    ann.page.fill("#room-title-input", "Garden Party")
    ann.page.click("#room-form button[type=submit]")
    bob.page.locator("#rooms a[data-slug='garden-party']").wait_for()
    ann.page.wait_for_function("() => location.hash === '#garden-party'")
    ann.page.locator("#status[data-state=open]").wait_for()

    # The new room works at once: bob follows the link and they talk there.
    bob.page.click("#rooms a[data-slug='garden-party']")
    bob.page.locator("#online[data-users='ann,bob']").wait_for()
    post(bob, "first in the garden")
    wait_message(ann, "first in the garden")
    ann.page.locator("#rooms a[data-slug='garden-party'] .count", has_text="1").wait_for()


def test_the_page_says_how_to_build_it_when_it_is_not_built(
    seeded: Seeded, tmp_path: Path, people: Browsers
) -> None:
    db = tmp_path / "chat.sqlite3"
    shutil.copyfile(seeded.db, db)
    env = chat_env(db, CHAT_REACT_DIST=str(tmp_path / "nothing"))
    with Daphne(app=APP, env=env) as server:
        context = people.person()
        context.add_cookies(
            [{"name": "sessionid", "value": people.sessions["ann"], "url": server.url}]
        )
        page = context.new_page()
        response = page.goto(f"{server.url}/react/")
        assert response is not None and response.status == 503
        assert "example_chat/react/build.py" in page.inner_text("main")
        assert page.request.get(f"{server.url}/react/secret.py").status == 404


def test_build_py_runs_from_the_command_line(tmp_path: Path, react_build_dir: Path) -> None:
    """`python example_chat/react/build.py --dist DIR --no-check` as the README says."""
    del react_build_dir  # only for its toolchain check
    proc = subprocess.run(
        [sys.executable, str(react_build.HERE / "build.py"), "--dist", str(tmp_path), "--no-check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "main.js").stat().st_size > 50_000
