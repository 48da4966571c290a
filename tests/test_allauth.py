"""The `allauth` extra against real django-allauth: sign-in, sign-out and sign-up as server
functions (sign-in and sign-up over HTTP only), with every socket of the browser session
following."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import include, path

from mizan_channels.checks import check_registry
from mizan_channels.contrib.allauth import enable
from mizan_channels.exceptions import MizanError
from mizan_channels.ir import build_ir
from mizan_channels.registry import registry
from mizan_channels.testing import MizanCommunicator
from tests.sessions import anonymous_session, browser, call_http, tab, whoami

# allauth's emails link to its pages, so the URLconf of these tests mounts them.
urlpatterns = [
    path("api/mizan/", include("mizan_channels.urls")),
    path("accounts/", include("allauth.urls")),
]

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]


@pytest.fixture(autouse=True)
def auth_functions() -> Iterator[None]:
    """The auth functions registered for this test only (other modules check exact contexts);
    allauth's rate-limit counters (the default cache) start empty."""
    before = dict(registry.functions)
    cache.clear()
    enable()
    yield
    registry.functions.clear()
    registry.functions.update(before)
    cache.clear()


async def http(c: Client, fn: str, **args: Any) -> tuple[int, Any]:
    return await sync_to_async(call_http)(c, fn, **args)


async def error_of(t: MizanCommunicator, fn: str, **args: Any) -> MizanError:
    with pytest.raises(MizanError) as info:
        await t.call(fn, **args)
    return info.value


def make_user(name: str, password: str = "pw-long-enough-1", **extra: Any) -> User:
    user = User.objects.create_user(name, email=f"{name}@example.com", password=password, **extra)
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
    return user


# Sign-in and sign-out move every socket of the session ------------------------------------


async def test_sign_in_over_http_switches_every_tab_of_the_session() -> None:
    await sync_to_async(make_user)("ann")
    key = await sync_to_async(anonymous_session)()
    async with tab(key) as one, tab(key) as two:
        assert await whoami(two) is None
        status, body = await http(
            browser(key), "auth.sign_in", login="ann", password="pw-long-enough-1"
        )
        assert status == 200
        assert body["data"]["authenticated"] is True
        assert body["data"]["user"]["username"] == "ann"
        assert {"ctx": "global"} in body["inv"] and {"ctx": "user"} in body["inv"]
        for t in (one, two):
            await t.next_frame(lambda f: f["t"] == "resync" and f.get("aud") == "user")
            assert await whoami(t) == "ann"


async def test_sign_in_and_sign_up_are_not_callable_over_the_socket() -> None:
    """They rotate the session key, and a socket can't hand the browser the new cookie: its
    HTTP calls and next page load would stay anonymous. So the socket refuses them."""
    await sync_to_async(make_user)("ann")
    key = await sync_to_async(anonymous_session)()
    async with tab(key) as t:
        signed_in = await error_of(t, "auth.sign_in", login="ann", password="pw-long-enough-1")
        signed_up = await error_of(
            t, "auth.sign_up", username="cleo", email="cleo@example.com", password="a-long-pass-123"
        )
        assert signed_in.code == signed_up.code == "not_exposed"
        assert await whoami(t) is None
    assert not await User.objects.filter(username="cleo").aexists()


async def test_a_visitor_without_a_session_gets_one_its_sockets_can_follow() -> None:
    await sync_to_async(make_user)("ann")
    b = browser()
    r = await sync_to_async(b.get)("/api/mizan/ctx/global")
    assert r.json()["data"]["auth.session"] == {
        "authenticated": False,
        "user": None,
        "pending": None,
    }
    key = b.cookies[settings.SESSION_COOKIE_NAME].value
    async with tab(key) as t:
        await http(b, "auth.sign_in", login="ann", password="pw-long-enough-1")
        await t.next_frame(lambda f: f["t"] == "resync" and f.get("aud") == "user")
        assert await whoami(t) == "ann"


async def test_sign_out_ends_the_subscription_that_needs_a_user() -> None:
    await sync_to_async(make_user)("sam", is_staff=True)
    b = browser(await sync_to_async(anonymous_session)())
    await http(b, "auth.sign_in", login="sam", password="pw-long-enough-1")
    key = b.cookies[settings.SESSION_COOKIE_NAME].value
    async with tab(key) as t:
        assert await whoami(t) == "sam"
        secret = await t.subscribe("chat", room="secret")
        lobby = await t.subscribe("chat", room="lobby")
        status, body = await http(b, "auth.sign_out")
        assert status == 200 and body["data"]["authenticated"] is False
        end = await t.next_frame(lambda f: f["t"] == "end")
        assert end == {"t": "end", "sub": secret, "reason": "unauthorized"}
        assert await whoami(t) is None
        await t.unsubscribe(lobby)  # the public subscription survived


async def test_sign_out_over_the_socket_ends_its_own_subscription() -> None:
    sam = await sync_to_async(make_user)("sam", is_staff=True)
    async with tab(user=sam) as t:
        secret = await t.subscribe("chat", room="secret")
        result = await t.call("auth.sign_out")
        assert result == {"authenticated": False, "user": None, "pending": None}
        end = await t.next_frame(lambda f: f["t"] == "end")
        assert end["sub"] == secret and end["reason"] == "unauthorized"
        assert await whoami(t) is None


# Errors: no enumeration, rate limits, form errors -------------------------------------------


async def test_wrong_password_and_unknown_user_get_the_same_error() -> None:
    await sync_to_async(make_user)("ann")
    status_wrong, body_wrong = await http(browser(), "auth.sign_in", login="ann", password="x")
    status_unknown, body_unknown = await http(browser(), "auth.sign_in", login="bob", password="x")
    assert status_wrong == status_unknown == 400
    assert body_wrong == body_unknown
    assert body_wrong["error"]["code"] == "invalid_params"
    assert body_wrong["error"]["details"][0]["loc"] == ["__all__"]


async def test_repeated_failures_are_rate_limited_even_with_the_right_password(
    settings: Any,
) -> None:
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "3/5m/key"}
    await sync_to_async(make_user)("ann")
    key = await sync_to_async(anonymous_session)()
    b = browser(key)
    async with tab(key) as t:
        for _ in range(3):
            status, body = await http(b, "auth.sign_in", login="ann", password="no")
            assert (status, body["error"]["code"]) == (400, "invalid_params")
        status, body = await http(b, "auth.sign_in", login="ann", password="pw-long-enough-1")
        assert (status, body["error"]["code"]) == (429, "rate_limited")
        assert await whoami(t) is None
    # Another browser is locked out too (allauth keys the count by site and login).
    other = browser()
    status, body = await http(other, "auth.sign_in", login="ann", password="pw-long-enough-1")
    assert status == 429 and body["error"]["code"] == "rate_limited"


async def test_sign_in_attempts_per_address_are_rate_limited(settings: Any) -> None:
    settings.ACCOUNT_RATE_LIMITS = {"login": "2/m/ip"}
    await sync_to_async(make_user)("ann")
    b = browser()
    for _ in range(2):
        assert (await http(b, "auth.sign_in", login="ann", password="no"))[0] == 400
    status, body = await http(b, "auth.sign_in", login="ann", password="pw-long-enough-1")
    assert (status, body["error"]["code"]) == (429, "rate_limited")


async def test_sign_up_form_errors_list_each_field() -> None:
    await sync_to_async(make_user)("ann")
    status, body = await http(
        browser(), "auth.sign_up", username="ann", email="not-an-email", password="x"
    )
    assert status == 400 and body["error"]["code"] == "invalid_params"
    locs = {tuple(d["loc"]) for d in body["error"]["details"]}
    assert {("username",), ("email",), ("password",)} <= locs
    assert all(set(d) == {"loc", "msg", "type"} and d["msg"] for d in body["error"]["details"])


# Sign-up ------------------------------------------------------------------------------------


async def test_sign_up_signs_in_and_the_sessions_sockets_follow() -> None:
    key = await sync_to_async(anonymous_session)()
    async with tab(key) as t:
        status, body = await http(
            browser(key),
            "auth.sign_up",
            username="cleo",
            email="cleo@example.com",
            password="a-long-pass-123",
            password2="a-long-pass-123",
        )
        assert status == 200, body
        assert body["data"]["authenticated"] is True
        assert body["data"]["user"]["email"] == "cleo@example.com"
        await t.next_frame(lambda f: f["t"] == "resync" and f.get("aud") == "user")
        assert await whoami(t) == "cleo"


async def test_sign_up_with_a_taken_email_answers_like_a_new_account(settings: Any) -> None:
    """allauth's enumeration prevention: the taken address gets the same pending answer as a
    fresh one, no account is created, and its owner is emailed instead."""
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    await sync_to_async(make_user)("ann")
    args = {"password": "a-long-pass-123", "password2": "a-long-pass-123"}
    fresh = await http(browser(), "auth.sign_up", username="dora", email="dora@x.org", **args)
    taken = await http(browser(), "auth.sign_up", username="eve", email="ann@example.com", **args)
    assert fresh == taken
    assert fresh[1]["data"] == {"authenticated": False, "user": None, "pending": "verify_email"}
    assert not await User.objects.filter(username="eve").aexists()
    assert sorted(m.to[0] for m in mail.outbox) == ["ann@example.com", "dora@x.org"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"ACCOUNT_PREVENT_ENUMERATION": False, "ACCOUNT_EMAIL_VERIFICATION": "mandatory"},
        {},  # optional verification: a new account would be signed in, so allauth can't hide it
    ],
)
async def test_sign_up_with_a_taken_email_is_a_field_error_when_allauth_cant_hide_it(
    settings: Any, overrides: dict[str, Any]
) -> None:
    for name, value in overrides.items():
        setattr(settings, name, value)
    await sync_to_async(make_user)("ann")
    status, body = await http(
        browser(),
        "auth.sign_up",
        username="eve",
        email="ann@example.com",
        password="a-long-pass-123",
        password2="a-long-pass-123",
    )
    assert status == 400
    assert [(d["loc"], d["type"]) for d in body["error"]["details"]] == [(["email"], "email_taken")]


async def test_mandatory_verification_leaves_sign_in_pending(settings: Any) -> None:
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    await sync_to_async(make_user)("ann")
    b = browser()
    status, body = await http(b, "auth.sign_in", login="ann", password="pw-long-enough-1")
    assert status == 200
    assert body["data"] == {"authenticated": False, "user": None, "pending": "verify_email"}
    r = await sync_to_async(b.get)("/api/mizan/ctx/global")
    assert r.json()["data"]["auth.session"]["pending"] == "verify_email"


# Password reset and email status ------------------------------------------------------------


async def test_password_reset_mails_a_link_and_answers_alike_for_unknown_addresses() -> None:
    await sync_to_async(make_user)("ann")
    async with tab(await sync_to_async(anonymous_session)()) as t:
        assert await t.call("auth.request_password_reset", email="ann@example.com") is None
        assert await t.call("auth.request_password_reset", email="who@example.com") is None
        bad = await error_of(t, "auth.request_password_reset", email="nope")
    assert bad.code == "invalid_params" and bad.details[0]["loc"] == ["email"]
    to_ann = [m for m in mail.outbox if m.to == ["ann@example.com"]]
    assert len(to_ann) == 1 and "/accounts/password/reset/key/" in to_ann[0].body
    assert [m.to for m in mail.outbox if m not in to_ann] == [["who@example.com"]]


async def test_verifying_an_email_tells_the_users_sockets_to_refetch() -> None:
    ann = await sync_to_async(make_user)("ann")
    async with tab(user=ann) as t:
        assert await t.call("auth.email_status") == [
            {"email": "ann@example.com", "verified": False, "primary": True}
        ]

        def confirm() -> int:
            address = EmailAddress.objects.get(user=ann)
            key = EmailConfirmationHMAC(address).key
            return browser().post(f"/accounts/confirm-email/{key}/").status_code

        assert await sync_to_async(confirm)() == 302
        await t.assert_invalidated({"ctx": "global"}, {"fn": "auth.email_status"})
        assert (await t.call("auth.email_status"))[0]["verified"] is True
        session = await t.call("auth.session")
        assert session["user"]["email_verified"] is True


async def test_email_status_needs_a_user() -> None:
    async with tab() as t:
        assert (await error_of(t, "auth.email_status")).code == "unauthorized"


# Declaration --------------------------------------------------------------------------------


def test_the_ir_carries_the_auth_functions() -> None:
    doc = build_ir()
    functions = {f.name: f for f in doc.functions}
    assert functions["auth.session"].context == "global"
    for name in ("auth.sign_in", "auth.sign_out", "auth.sign_up"):
        assert {a.name for a in functions[name].affects} == {"global", "user"}
    # Only an HTTP response can set the session cookie that sign-in and sign-up rotate.
    assert functions["auth.sign_in"].transport == functions["auth.sign_up"].transport == "http"
    assert functions["auth.sign_out"].transport == "websocket"
    assert functions["auth.email_status"].auth == "user"
    assert {"AuthSession", "AuthUser", "AuthEmail"} <= {t.name for t in doc.types}


def test_enable_twice_is_harmless_and_prefix_is_the_projects() -> None:
    enable()
    enable(prefix="account.", context="me")
    assert registry.function("account.sign_in") is not None
    assert registry.function("account.session").context == "me"  # type: ignore[union-attr]


def test_an_undeclared_invalidates_context_is_one_warning_about_enable() -> None:
    """A project without the context enable() invalidates (by default "user") is told once,
    about its enable() call, not three times about library functions it never wrote."""
    assert not [m for m in check_registry() if m.id == "mizan_channels.W022"]  # "user" exists
    enable(prefix="acct.", context="acct_me", invalidates=("viewer",))
    found = [m for m in check_registry() if m.id == "mizan_channels.W022"]
    assert len(found) == 1
    assert found[0].obj == "mizan_channels.contrib.allauth.enable"
    assert "acct.sign_in, acct.sign_out, acct.sign_up" in found[0].msg
    assert "'viewer'" in found[0].msg
    assert "enable(invalidates=(...))" in (found[0].hint or "")
    assert "enable(invalidates=())" in (found[0].hint or "")
    assert "'user'" in (found[0].hint or "")  # the declared contexts, to pick from
    registry.functions.pop("acct.session")  # the context acct_me goes away: warned too
    assert len([m for m in check_registry() if m.id == "mizan_channels.W022"]) == 2


async def test_asking_over_a_socket_without_a_session_creates_none() -> None:
    from django.contrib.sessions.models import Session

    before = await Session.objects.acount()
    async with tab() as t:
        assert (await t.call("auth.session"))["authenticated"] is False
    assert await Session.objects.acount() == before


def test_a_browser_signs_in_and_out_under_csrf_with_the_rotated_token() -> None:
    """What a page does: the context fetch sets the CSRF cookie, each POST sends the cookie's
    current value (sign-in rotates it)."""
    make_user("ann")
    b = Client(enforce_csrf_checks=True)
    assert b.get("/api/mizan/ctx/global").status_code == 200

    def post(fn: str, **args: Any) -> Any:
        token = b.cookies["csrftoken"].value
        return b.post(
            f"/api/mizan/call/{fn}",
            data=json.dumps(args),
            content_type="application/json",
            headers={"X-CSRFToken": token},
        )

    assert (
        b.post("/api/mizan/call/auth.sign_out", content_type="application/json").status_code == 403
    )
    before = b.cookies["csrftoken"].value
    r = post("auth.sign_in", login="ann", password="pw-long-enough-1")
    assert r.status_code == 200 and r.json()["data"]["authenticated"] is True
    assert b.cookies["csrftoken"].value != before
    assert (
        b.get("/api/mizan/ctx/global").json()["data"]["auth.session"]["user"]["username"] == "ann"
    )
    r = post("auth.sign_out")
    assert r.status_code == 200 and r.json()["data"]["authenticated"] is False
    assert b.get("/api/mizan/ctx/global").json()["data"]["auth.session"]["authenticated"] is False
