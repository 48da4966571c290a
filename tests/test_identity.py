"""Sockets follow their browser session: sign-in and sign-out switch every socket of the
session without reconnecting; a password change or deactivation closes the user's sockets."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from mizan_channels import mwt
from mizan_channels.testing import MizanCommunicator
from tests.asgi import application
from tests.conftest import TIMEOUT
from tests.sessions import anonymous_session, browser, call_http, tab, whoami

pytestmark = pytest.mark.django_db(transaction=True)


async def test_sign_in_over_http_switches_every_tab_of_the_session() -> None:
    await User.objects.acreate_user("ann", password="pw")  # type: ignore[attr-defined]
    key = await sync_to_async(anonymous_session)()
    async with tab(key) as one, tab(key) as two:
        assert await whoami(one) is None
        _, result = await sync_to_async(call_http)(
            browser(key), "sign_in", username="ann", password="pw"
        )
        assert result["data"] is True
        for t in (one, two):
            resync = await t.next_frame(lambda f: f["t"] == "resync" and f.get("aud") == "user")
            assert resync["epoch"]
            assert await whoami(t) == "ann"


async def test_sign_in_over_the_socket_switches_that_socket() -> None:
    await User.objects.acreate_user("ann", password="pw")  # type: ignore[attr-defined]
    key = await sync_to_async(anonymous_session)()
    async with tab(key) as t:
        assert await t.call("sign_in", username="ann", password="pw") is True
        await t.next_frame(lambda f: f["t"] == "resync" and f.get("aud") == "user")
        assert await whoami(t) == "ann"


async def test_sign_out_ends_subscriptions_that_need_the_user() -> None:
    await User.objects.acreate_user("sam", password="pw", is_staff=True)  # type: ignore[attr-defined]
    key = await sync_to_async(anonymous_session)()
    b = browser(key)
    await sync_to_async(call_http)(b, "sign_in", username="sam", password="pw")
    new_key = b.cookies[settings.SESSION_COOKIE_NAME].value
    async with tab(new_key) as t:
        assert await whoami(t) == "sam"
        secret = await t.subscribe("chat", room="secret")
        public = await t.subscribe("chat", room="lobby")
        await sync_to_async(call_http)(b, "sign_out")
        end = await t.next_frame(lambda f: f["t"] == "end")
        assert end["sub"] == secret and end["reason"] == "unauthorized"
        assert await whoami(t) is None
        other = await t.request({"t": "unsub", "sub": public})
        assert other["t"] == "ok"  # the public subscription survived


async def test_password_change_closes_the_users_sockets() -> None:
    ann = await User.objects.acreate_user("ann", password="pw")  # type: ignore[attr-defined]
    async with MizanCommunicator(application, user=ann, timeout=TIMEOUT) as t:
        assert await whoami(t) == "ann"

        def change() -> None:
            ann.set_password("new")
            ann.save()

        await sync_to_async(change)()
        while True:
            out = await t.receive_output(TIMEOUT)
            if out["type"] == "websocket.close":
                assert out["code"] == 4401
                break


async def test_deactivation_closes_token_authenticated_socket() -> None:
    ann = await User.objects.acreate_user("ann", password="pw")  # type: ignore[attr-defined]
    token, _ = await sync_to_async(mwt.issue)(ann)
    async with MizanCommunicator(application, timeout=TIMEOUT) as t:
        assert (await t.request({"t": "auth", "token": token}))["t"] == "ok"
        ann.is_active = False
        await sync_to_async(ann.save)()
        while True:
            out = await t.receive_output(TIMEOUT)
            if out["type"] == "websocket.close":
                assert out["code"] == 4401
                break


async def test_unrelated_save_keeps_socket_open() -> None:
    ann = await User.objects.acreate_user("ann", password="pw")  # type: ignore[attr-defined]
    async with MizanCommunicator(application, user=ann, timeout=TIMEOUT) as t:
        ann.first_name = "Ann"
        await sync_to_async(ann.save)()
        assert await whoami(t) == "ann"
        await t.assert_nothing(timeout=1.0)  # no close follows the recheck


async def test_token_socket_follows_the_sign_out_of_the_session_it_came_from() -> None:
    ann = await User.objects.acreate_user("ann", password="pw")  # type: ignore[attr-defined]
    b = Client()
    await sync_to_async(b.force_login)(ann)
    token = (await sync_to_async(b.get)("/api/mizan/mwt")).json()["token"]
    async with MizanCommunicator(application, timeout=TIMEOUT) as t:  # no cookie: token only
        assert (await t.request({"t": "auth", "token": token}))["t"] == "ok"
        await t.next_frame(lambda f: f["t"] == "resync" and f.get("aud") == "all")  # auth's
        assert await whoami(t) == "ann"
        await sync_to_async(call_http)(b, "sign_out")
        await t.next_frame(lambda f: f["t"] == "resync" and f.get("aud") == "all")
        assert await whoami(t) is None


async def test_inv_positions_stay_contiguous_across_a_credential_recheck(fanout: str) -> None:
    # protocol.md: a stream's `seq` grows by exactly 1. The recheck that saving a user
    # announces on the user's stream is for the server's sockets only: it must take no
    # position, or the client sees a gap in its `inv` frames where nothing was lost.
    ann = await User.objects.acreate_user("ann", password="pw")  # type: ignore[attr-defined]
    async with MizanCommunicator(application, user=ann, timeout=TIMEOUT) as t:
        await t.call("touch_profile")
        ann.first_name = "Ann"
        await sync_to_async(ann.save)()
        await t.call("touch_profile")
        first, second = [await t.next_frame(lambda f: f["t"] == "inv") for _ in "ab"]
        assert (first["aud"], second["aud"]) == ("user", "user")
        assert second["seq"] == first["seq"] + 1
