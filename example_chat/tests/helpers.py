"""Helpers of the example chat's end-to-end tests: the chat's process environment, and
browser pages that record the script errors they raise."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import TIMEOUT
from tests.servers import ROOT, Daphne

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "e2e-demo-password"
APP = "example_chat.asgi:application"


def chat_env(db: Path, **extra: str) -> dict[str, str]:
    """The environment of a production-like chat process (DEBUG off) on `db`."""
    return {
        "DJANGO_SETTINGS_MODULE": "example_chat.settings",
        "CHAT_SQLITE_PATH": str(db),
        "DJANGO_DEBUG": "0",
        "DJANGO_SERVE_STATIC": "1",
        "DJANGO_SECURE_COOKIES": "0",
        "DJANGO_SECRET_KEY": "e2e-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "MIZAN_CACHE_SECRET": "e2e-cache-secret-0123456789abcdefghijklmnopqrstuv",
        "MIZAN_MWT_SECRET": "e2e-mwt-secret-0123456789abcdefghijklmnopqrstuvwx",
        "CHAT_DEMO_PASSWORD": PASSWORD,
        "REDIS_URL": "",
        "DATABASE_URL": "",
        **extra,
    }


def manage(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "example_chat" / "manage.py"), *args],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


@dataclass
class Tab:
    """A page of the chat with the errors it raised, so a test fails on a broken script."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def eval(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)

    def messages(self) -> list[str]:
        return list(self.page.locator("#messages li .text").all_inner_texts())

    def fetched(self, path: str) -> int:
        """How many requests this page made to a URL containing `path`."""
        return sum(path in url for url in self.requests)

    def rooms(self) -> list[str]:
        return [a.get_attribute("data-slug") for a in self.page.locator("#rooms a").all()]


@dataclass(frozen=True)
class Seeded:
    """A migrated, seeded database to copy, and a logged-in session key per demo user."""

    db: Path
    sessions: dict[str, str]


class Browsers:
    """Independent browser contexts (separate cookie jars: separate people)."""

    def __init__(self, browser: Any, sessions: dict[str, str]) -> None:
        self.browser = browser
        self.sessions = sessions
        self.contexts: list[Any] = []
        self.tabs: list[Tab] = []

    def person(self) -> Any:
        context = self.browser.new_context(viewport={"width": 1100, "height": 640})
        context.set_default_timeout(TIMEOUT * 1000)
        self.contexts.append(context)
        return context

    def tab(self, context: Any, url: str) -> Tab:
        page = context.new_page()
        tab = Tab(page)
        page.on("pageerror", lambda exc: tab.errors.append(str(exc)))
        page.on("request", lambda request: tab.requests.append(request.url))
        page.goto(url)
        self.tabs.append(tab)
        return tab

    def login(
        self,
        server: Daphne,
        username: str,
        room: str = "lobby",
        context: Any = None,
        form: bool = False,
    ) -> Tab:
        """A page of `username` (a new person unless `context`) in `room`, once live. With
        `form`, through the login form; otherwise with the seeded session's cookie."""
        context = context or self.person()
        if not form:
            cookie = {"name": "sessionid", "value": self.sessions[username]}
            context.add_cookies([{**cookie, "url": server.url}])
        if form:
            tab = self.tab(context, f"{server.url}/login/?next=/%23{room}")
            tab.page.fill("#id_username", username)
            tab.page.fill("#id_password", PASSWORD)
            tab.page.click("#login-form button[type=submit]")
        else:
            tab = self.tab(context, f"{server.url}/#{room}")
        wait_live(tab)
        return tab

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def wait_live(tab: Tab, connections: int = 1) -> None:
    """Until the page's socket is open (for the `connections`-th time)."""
    tab.page.wait_for_function(
        "n => window.chat && chat.mizan.state === 'open' && chat.mizan.connections >= n",
        arg=connections,
    )


def post(tab: Tab, text: str) -> None:
    """Send a chat message from the page's compose form (both pages share its markup)."""
    tab.page.fill("#compose input[name=text]", text)
    tab.page.click("#compose button[type=submit]")


def wait_message(tab: Tab, text: str) -> None:
    tab.page.locator("#messages li .text", has_text=text).first.wait_for()
