"""MWT: only a valid token authenticates; every failure is the same generic `unauthorized`;
tokens never reach logs, URLs or error payloads; credential changes end the user's sockets.

Rules proven here (docs/security.md, "Socket tokens"):
- forged, expired, foreign-key, tampered, session-signature and retired tokens all get the
  identical error, so a client can't tell which check failed;
- a password change or deactivation closes every socket of the user (4401), token or cookie;
- signing out makes every socket of that browser session anonymous (not closed), including a
  socket that authenticated with a token; the session can no longer obtain tokens.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.test import Client

from mizan_channels import mwt
from mizan_channels.exceptions import Unauthorized
from mizan_channels.remote import connect
from mizan_channels.testing import MizanCommunicator
from tests.conftest import TIMEOUT
from tests.security.support import LogTrap, daphne, manage_shell
from tests.sockets import sock, still_works

pytestmark = pytest.mark.django_db(transaction=True)

GENERIC = {"code": "unauthorized", "message": "Invalid or expired token."}


async def auth(c: MizanCommunicator, token: str) -> dict[str, Any]:
    return await c.request({"t": "auth", "token": token})


async def closed_with(c: MizanCommunicator) -> int:
    while True:
        out = await c.receive_output(TIMEOUT)
        if out["type"] == "websocket.close":
            return int(out["code"])


def flip(token: str, i: int) -> str:
    """The token with one bit of character `i` flipped."""
    return token[:i] + chr(ord(token[i]) ^ 1) + token[i + 1 :]


async def test_valid_token_authenticates_and_is_not_in_logs(logs: LogTrap, settings: Any) -> None:
    settings.MIZAN_LOG_ARGS = True
    ann = await User.objects.acreate_user("ann", password="pw")  # type: ignore[attr-defined]
    token, _expires = await sync_to_async(mwt.issue)(ann)
    async with sock() as c:
        assert (await auth(c, token))["t"] == "ok"
        assert await c.call("whoami") == "ann"
    assert token not in logs.text()
    assert token.split(":")[-1] not in logs.text()  # nor its signature


async def test_bit_flip_at_every_position_is_refused_generically(logs: LogTrap) -> None:
    ann = await User.objects.acreate_user("ann", password="pw")  # type: ignore[attr-defined]
    token, _ = await sync_to_async(mwt.issue)(ann)
    async with sock() as c:
        for i in range(len(token)):
            bad = flip(token, i)
            reply = await auth(c, bad)
            assert reply["t"] == "err" and reply["error"] == GENERIC, (i, reply)
            assert bad not in json.dumps(reply)
        with pytest.raises(Exception) as info:
            await c.call("whoami")
        assert getattr(info.value, "code", "") == "unauthorized"
        await still_works(c)
    assert token not in logs.text() and not logs.errors()


def forgeries(user: User) -> dict[str, str]:
    payload = {"u": str(user.pk), "h": user.get_session_auth_hash()[:32]}
    session_key = "x" * 32
    return {
        "another key": signing.TimestampSigner(key="k" * 50, salt=mwt.SALT).sign_object(payload),
        "SECRET_KEY, our salt": signing.TimestampSigner(salt=mwt.SALT).sign_object(payload),
        "Django signing.dumps": signing.dumps(payload),
        "signed-cookie session": signing.dumps(
            {"_auth_user_id": str(user.pk)},
            salt="django.contrib.sessions.backends.signed_cookies",
            compress=True,
        ),
        "session key": session_key,
        "unsigned payload": json.dumps(payload),
        "empty": "",
        "huge": "A" * 100_000,
        "unicode": "\u202e" * 10 + ":" * 3,
    }


async def test_forgeries_are_refused_generically(logs: LogTrap) -> None:
    ann = await User.objects.acreate_user("ann", password="pw")  # type: ignore[attr-defined]
    forged = await sync_to_async(forgeries)(ann)
    async with sock() as c:
        for name, token in forged.items():
            reply = await auth(c, token)
            assert reply["t"] == "err" and reply["error"] == GENERIC, name
        await still_works(c)
    assert not logs.errors()


async def test_expired_retired_and_inactive_are_refused_generically(settings: Any) -> None:
    ann = await User.objects.acreate_user("ann", password="pw")  # type: ignore[attr-defined]
    ian = await User.objects.acreate_user("ian", password="pw")  # type: ignore[attr-defined]
    ann_token, _ = await sync_to_async(mwt.issue)(ann)
    ian_token, _ = await sync_to_async(mwt.issue)(ian)

    def retire() -> None:
        ann.set_password("changed")
        ann.save()
        ian.is_active = False
        ian.save()

    async with sock() as c:
        await sync_to_async(retire)()
        for token in (ann_token, ian_token):
            assert (await auth(c, token))["error"] == GENERIC
        fresh, _ = await sync_to_async(mwt.issue)(ann)
        settings.MIZAN_MWT_TTL = -1
        assert (await auth(c, fresh))["error"] == GENERIC
        with pytest.raises(Unauthorized) as info:
            await mwt.averify(fresh)
        assert info.value.payload() == GENERIC


async def test_password_change_closes_a_token_socket() -> None:
    ann = await User.objects.acreate_user("ann", password="pw")  # type: ignore[attr-defined]
    token, _ = await sync_to_async(mwt.issue)(ann)
    async with sock() as c:
        assert (await auth(c, token))["t"] == "ok"

        def change() -> None:
            ann.set_password("new")
            ann.save()

        await sync_to_async(change)()
        assert await closed_with(c) == 4401


async def test_sign_out_makes_token_and_cookie_sockets_of_the_session_anonymous() -> None:
    await User.objects.acreate_user("ann", password="pw", is_staff=True)  # type: ignore[attr-defined]
    browser = Client()

    def sign_in() -> tuple[str, str]:
        assert browser.login(username="ann", password="pw")
        r = browser.get("/api/mizan/mwt")
        assert r.status_code == 200 and r["Cache-Control"] == "no-store"
        return browser.cookies[settings.SESSION_COOKIE_NAME].value, r.json()["token"]

    key, token = await sync_to_async(sign_in)()
    cookie = [(b"cookie", f"{settings.SESSION_COOKIE_NAME}={key}".encode())]
    async with sock(headers=cookie) as by_cookie, sock(headers=cookie) as by_token:
        assert (await auth(by_token, token))["t"] == "ok"
        assert await by_cookie.call("whoami") == "ann"
        assert await by_token.call("whoami") == "ann"
        subs = [await c.subscribe("chat", room="secret") for c in (by_cookie, by_token)]
        await sync_to_async(browser.logout)()
        for c, sub in zip((by_cookie, by_token), subs, strict=True):
            # The staff-only subscription ends: the identity change has been applied.
            end = await c.next_frame(lambda f: f["t"] == "end")
            assert (end["sub"], end["reason"]) == (sub, "unauthorized")
            with pytest.raises(Exception) as info:
                await c.call("whoami")
            assert getattr(info.value, "code", "") == "unauthorized"
    signed_out = await sync_to_async(browser.get)("/api/mizan/mwt")
    assert signed_out.status_code == 401


@pytest.mark.e2e
async def test_token_travels_in_a_frame_never_the_url_or_server_log(sec_db: str) -> None:
    import asyncio

    token = await asyncio.to_thread(
        manage_shell,
        sec_db,
        "from django.contrib.auth.models import User;from mizan_channels import mwt;"
        "print(mwt.issue(User.objects.create_user('tok_user', password='pw'))[0])",
    )
    with daphne(sec_db) as d:
        async with connect(d.ws_url + "/ws/mizan/", token=token, timeout=TIMEOUT) as c:
            assert await c.call("whoami") == "tok_user"
            assert c.ws is not None and token not in c.ws.request.path
        async with connect(d.ws_url + "/ws/mizan/", timeout=TIMEOUT, reconnect=False) as c:
            with pytest.raises(Exception) as info:
                await c.request({"t": "auth", "token": token + "x"})
            assert getattr(info.value, "code", "") == "unauthorized"
            assert token not in str(info.value)
        d.terminate()
        assert token not in d.output() and token.split(":")[-1] not in d.output()
