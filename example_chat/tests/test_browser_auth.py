"""Signing in and out of the example chat through allauth's flows as server functions
(`auth.sign_in`, `auth.sign_out`, mizan_channels.contrib.allauth), in real Chromium against
real daphne: the login page's errors, the rate limit, a safe `next`, and a sign-out in one
tab that the session's other tabs follow on their own.

Tests that sign out log in through the form first: signing out deletes the session, and the
seeded sessions are shared by every test of the run.
"""

from __future__ import annotations

import re
import urllib.request

import pytest

from tests.servers import Daphne

from .helpers import PASSWORD, Browsers, Tab, wait_live

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def submit_login(tab: Tab, username: str, password: str) -> None:
    tab.page.fill("#id_username", username)
    tab.page.fill("#id_password", password)
    tab.page.click("#login-form button[type=submit]")


def test_signing_out_in_one_tab_sends_the_other_tabs_to_login(
    chat_server: Daphne, people: Browsers
) -> None:
    ann = people.person()
    first = people.login(chat_server, "ann", form=True, context=ann)
    second = people.tab(ann, f"{chat_server.url}/#vault")
    wait_live(second)
    second.page.locator("#room-title", has_text="Vault").wait_for()
    # What the second tab's subscriptions hear is kept where a navigation can't erase it.
    second.eval(
        """() => chat.mizan.subscribe("chat", { room: "vault" }, {
            onEnd: (reason) => sessionStorage.setItem("vault-ended", reason),
        }).ready"""
    )

    first.page.click("#logout button[type=submit]")
    first.page.wait_for_url(re.compile(r"/login/$"))
    # No reload by the test: the second tab's socket turned anonymous, its restricted-room
    # subscription ended, and its refetched `auth.session` sent it to the login page.
    second.page.wait_for_url(re.compile(r"/login/\?next=%2F%23vault$"))
    assert second.eval("sessionStorage.getItem('vault-ended')") == "unauthorized"
    # The session is gone for both: the chat page now redirects, and so does its API.
    second.page.goto(f"{chat_server.url}/#lobby")
    second.page.wait_for_url(re.compile(r"/login/"))
    assert second.eval("fetch('/api/mizan/ctx/global').then((r) => r.json())")["data"][
        "auth.session"
    ] == {"authenticated": False, "user": None, "pending": None}

    # Signing in again from that page lands where `next` says, live.
    submit_login(second, "ann", PASSWORD)
    second.page.wait_for_url(re.compile(r"/#lobby$"))
    wait_live(second)
    assert second.page.inner_text("#me") == "ann"


def test_the_login_page_shows_allauths_errors(chat_server: Daphne, people: Browsers) -> None:
    tab = people.tab(people.person(), f"{chat_server.url}/login/")
    error = tab.page.locator("#login-error")

    # A wrong password and an unknown user are one answer: nothing says who has an account.
    submit_login(tab, "cat", "not the password")
    tab.page.locator("#login-error[data-code=invalid_params]").wait_for()
    wrong_password = error.inner_text()
    tab.eval("document.getElementById('login-error').dataset.code = ''")
    submit_login(tab, "nobody-here", "not the password")
    tab.page.locator("#login-error[data-code=invalid_params]").wait_for()
    assert error.inner_text() == wrong_password
    assert "not correct" in wrong_password

    # allauth's lock after repeated failures (5 per login by default) is `rate_limited`,
    # and holds even for the right password.
    for _ in range(4):
        tab.eval("document.getElementById('login-error').dataset.code = ''")
        submit_login(tab, "cat", "still not it")
        tab.page.locator("#login-error[data-code]:not([data-code=''])").wait_for()
    tab.eval("document.getElementById('login-error').dataset.code = ''")
    submit_login(tab, "cat", PASSWORD)
    tab.page.locator("#login-error[data-code=rate_limited]").wait_for()
    assert "too many" in error.inner_text().lower()
    assert tab.page.url.endswith("/login/")


def test_the_login_page_only_sends_people_back_to_this_site(chat_server: Daphne) -> None:
    def next_of(query: str) -> str:
        with urllib.request.urlopen(f"{chat_server.url}/login/?{query}", timeout=10) as reply:
            html = reply.read().decode()
        found = re.search(r'data-next="([^"]*)"', html)
        assert found, html[:500]
        return found.group(1)

    assert next_of("next=/%23random") == "/#random"
    assert next_of("next=https://evil.example/") == "/"
    assert next_of("next=//evil.example/") == "/"
    assert next_of("") == "/"


def test_a_tab_without_subscriptions_learns_of_a_sign_out_from_a_resync(
    chat_server: Daphne, people: Browsers
) -> None:
    ann = people.person()
    first = people.login(chat_server, "ann", form=True, context=ann)
    second = people.tab(ann, f"{chat_server.url}/#lobby")
    wait_live(second)
    second.eval(
        "() => { const r = chat.room(); r.messages.unsubscribe(); r.typing.unsubscribe(); }"
    )
    first.page.click("#logout button[type=submit]")
    first.page.wait_for_url(re.compile(r"/login/$"))
    second.page.wait_for_url(re.compile(r"/login/"), timeout=3000)
