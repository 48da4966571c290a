"""Cross-site WebSocket hijacking: a page on another origin must never open a socket that
carries the visitor's cookies. Matrix of Origin x credentials, in-process and at real daphne.

Rule: the Origin check runs before anything else, whatever the credentials; only an Origin
whose host is in ALLOWED_HOSTS opens a socket. Credentials decide who the socket is only
after that: the session cookie first, then an `auth` frame's MWT replaces it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from mizan_channels import mwt, protocol
from tests.conftest import TIMEOUT
from tests.security.support import daphne, manage_shell, raw_socket

pytestmark = pytest.mark.django_db(transaction=True)

ORIGINS: dict[str, str | None] = {
    "allowed": "http://localhost",
    "allowed-other-port": "http://localhost:8443",
    "evil": "http://evil.example",
    "sibling-subdomain": "http://evil.localhost",
    "suffix-trick": "http://localhost.evil.example",
    "null": "null",
    "missing": None,
}
ALLOWED = {"allowed", "allowed-other-port"}
CREDENTIALS = ["cookie", "mwt", "both", "none"]


def cookie_for(user: User) -> bytes:
    c = Client()
    c.force_login(user)
    return (
        f"{settings.SESSION_COOKIE_NAME}={c.cookies[settings.SESSION_COOKIE_NAME].value}".encode()
    )


async def answer(c: Any, frame: dict[str, Any]) -> dict[str, Any]:
    """Send `frame`; its reply (requests run concurrently: wait before the next one)."""
    await c.send_to(text_data=protocol.dumps(frame).decode())
    while True:
        got = protocol.loads(await c.receive_from(TIMEOUT))
        if got.get("id") == frame["id"]:
            return dict(got)


async def whoami(c: Any, frame_id: int) -> str | None:
    got = await answer(c, {"t": "call", "id": frame_id, "fn": "whoami"})
    return got["data"] if got["t"] == "ok" else None


@pytest.mark.parametrize("origin", list(ORIGINS))
@pytest.mark.parametrize("creds", CREDENTIALS)
async def test_origin_matrix(origin: str, creds: str) -> None:
    ann = await User.objects.acreate_user("ann", password="pw")  # type: ignore[attr-defined]
    bob = await User.objects.acreate_user("bob", password="pw")  # type: ignore[attr-defined]
    headers = [(b"host", b"localhost")]
    value = ORIGINS[origin]
    if value is not None:
        headers.append((b"origin", value.encode()))
    if creds in ("cookie", "both"):
        headers.append((b"cookie", await sync_to_async(cookie_for)(ann)))
    c = raw_socket(headers)
    connected, code = await c.connect(TIMEOUT)
    if origin not in ALLOWED:
        assert not connected, f"{origin} socket opened"
        return
    assert connected, code
    try:
        hello = protocol.loads(await c.receive_from(TIMEOUT))
        assert hello["t"] == "hello"
        if creds in ("mwt", "both"):
            token, _ = await sync_to_async(mwt.issue)(bob)
            assert (await answer(c, {"t": "auth", "id": 1, "token": token}))["t"] == "ok"
        expected = {"cookie": "ann", "mwt": "bob", "both": "bob", "none": None}[creds]
        assert await whoami(c, 2) == expected
    finally:
        await c.disconnect()


# At the server: daphne answers the handshake itself ---------------------------------------


@pytest.mark.e2e
async def test_daphne_refuses_foreign_origins_with_a_real_session(sec_db: str) -> None:
    key = await asyncio.to_thread(
        manage_shell,
        sec_db,
        "from django.contrib.auth.models import User;"
        "from django.contrib.sessions.backends.db import SessionStore;"
        "u=User.objects.create_user('eve_victim', password='pw');"
        "s=SessionStore();s['_auth_user_id']=str(u.pk);"
        "s['_auth_user_backend']='django.contrib.auth.backends.ModelBackend';"
        "s['_auth_user_hash']=u.get_session_auth_hash();s.save();print(s.session_key)",
    )
    cookie = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={key}"}
    with daphne(sec_db) as d:
        url = d.ws_url + "/ws/mizan/"
        for name, origin in ORIGINS.items():
            if name in ALLOWED:
                continue
            with pytest.raises(InvalidStatus) as info:
                async with ws_connect(
                    url,
                    origin=origin,
                    additional_headers=cookie,
                    open_timeout=TIMEOUT,  # type: ignore[arg-type]
                ):
                    pass
            assert info.value.response.status_code == 403, name
        async with ws_connect(
            url,
            origin="http://127.0.0.1",
            additional_headers=cookie,
            open_timeout=TIMEOUT,  # type: ignore[arg-type]
        ) as ws:
            assert protocol.loads(await ws.recv())["t"] == "hello"
            await ws.send(protocol.dumps({"t": "call", "id": 1, "fn": "whoami"}).decode())
            assert protocol.loads(await ws.recv())["data"] == "eve_victim"
