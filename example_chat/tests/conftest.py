"""Fixtures for the example chat's end-to-end tests: real daphne processes serving
`example_chat.asgi:application` on a temporary SQLite file, and real headless Chromium.

The database is migrated and seeded once per session (through the real `migrate` and
`seed_demo` commands) and copied for each server, so every test starts from the same rooms
and users without paying for migrations again.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TIMEOUT, need, redis_url  # noqa: F401  (a fixture, re-exported)
from tests.servers import Daphne

from .helpers import (
    APP,
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    Browsers,
    Seeded,
    chat_env,
    manage,
)

#: Run in `manage.py shell` after migrating: the real seed command, two rooms, a session per demo
#: user, so tests that aren't about logging in skip the form (and its deliberately slow
#: password hash). Prints the seed's output, a separator line, and the session keys as JSON.
SEED = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
call_command("seed_demo")
from example_chat.chat.models import Room
for slug in ["hall", "relay", "porch", "stoop"]:  # rooms of their own for tests sharing a server
    Room.objects.create(slug=slug, title=slug.title())
vault = Room.objects.create(slug="vault", title="Vault", restricted=True)
vault.members.add(get_user_model().objects.get(username="ann"))
# Locked out by the rate-limit test; nobody else signs in as cat.
get_user_model().objects.create_user("cat", password="e2e-demo-password")
keys = {}
for user in get_user_model().objects.filter(username__in=["ann", "bob"]):
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    keys[user.username] = session.session_key
print("----")
print(json.dumps(keys))
"""


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    path = tmp_path_factory.mktemp("chat") / "seeded.sqlite3"
    env = chat_env(path)
    manage(env, "migrate", "--noinput", "-v", "0")
    out, _, sessions = manage(env, "shell", "-c", SEED).rpartition("----\n")
    assert f"demo login: ann / {PASSWORD}" in out, out
    return Seeded(path, json.loads(sessions))


@pytest.fixture
def chat_db(seeded: Seeded, tmp_path: Path) -> Path:
    path = tmp_path / "chat.sqlite3"
    shutil.copyfile(seeded.db, path)
    return path


@pytest.fixture(scope="session")
def chat_server(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daphne]:
    """One server for the tests that leave it running. Each of them works in rooms of its
    own (see SEED), so they pass alone and in any order."""
    db = tmp_path_factory.mktemp("shared") / "chat.sqlite3"
    shutil.copyfile(seeded.db, db)
    server = Daphne(app=APP, env=chat_env(db))
    server.start()
    try:
        yield server
    finally:
        server.terminate()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        need(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("Playwright for Python is not installed (pip install playwright)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=TIMEOUT * 4000
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def people(browser: Any, seeded: Seeded) -> Iterator[Browsers]:
    people = Browsers(browser, seeded.sessions)
    try:
        yield people
        for tab in people.tabs:
            assert not tab.errors, f"the page raised: {tab.errors}"
    finally:
        people.close()
