"""Channels: `authorize` that refuses or raises, authorization revoked while subscribed
(ended with `end` frames), and group names that are valid for every layer and never collide.
"""

from __future__ import annotations

import os
import re

import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer
from django.contrib.auth.models import User
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from mizan_channels.broker import RedisBackend
from tests.security.support import LogTrap, assert_clean
from tests.sockets import sock, still_works
from tests.testapp.clients import ChatChannel, GuardedChannel, NewsChannel

CI = os.environ.get("CI", "").lower() == "true"
DB = pytest.mark.django_db(transaction=True)


@DB
@pytest.mark.parametrize(
    ("mode", "anonymous", "logged_in"),
    [
        ("closed", "unauthorized", "forbidden"),
        ("raise", "unauthorized", "forbidden"),
    ],
)
async def test_refusing_or_raising_authorize(
    mode: str, anonymous: str, logged_in: str, logs: LogTrap
) -> None:
    ann = await User.objects.acreate_user("ann", password="pw")  # type: ignore[attr-defined]
    for user, code in ((None, anonymous), (ann, logged_in)):
        async with sock(user=user) as c:
            got = await c.request({"t": "sub", "ch": "guarded", "params": {"mode": mode}})
            assert got["error"]["code"] == code
            assert_clean(got)
            await GuardedChannel.apush(GuardedChannel.DjangoMessage(text="x"), mode=mode)
            await still_works(c)
            await c.assert_nothing()  # no `msg` of the refused subscription, then or later
    assert not logs.errors()  # a raising hook is a WARNING with its traceback, not an ERROR
    assert any("authorize of guarded raised" in r.getMessage() for r in logs.records) == (
        mode == "raise"
    )


@DB
async def test_revoked_while_subscribed_ends_with_an_end_frame() -> None:
    """Saving the user (here: staff taken away) makes its sockets re-check every
    subscription; those no longer allowed end with `end`, the socket and the others live."""
    sam = await User.objects.acreate_user("sam", password="pw", is_staff=True)  # type: ignore[attr-defined]
    async with sock(user=sam) as c:
        staff = await c.subscribe("guarded", mode="staff")
        secret = await c.subscribe("chat", room="secret")
        lobby = await c.subscribe("chat", room="lobby")
        sam.is_staff = False
        await sync_to_async(sam.save)()
        ended = {}
        for _ in range(2):
            end = await c.next_frame(lambda f: f["t"] == "end")
            ended[end["sub"]] = end["reason"]
        assert ended == {staff: "forbidden", secret: "forbidden"}
        await GuardedChannel.apush(GuardedChannel.DjangoMessage(text="late"), mode="staff")
        await ChatChannel.apush(ChatChannel.DjangoMessage(text="hi", user="x"), room="lobby")
        pushed = await c.next_frame(lambda f: f["t"] == "msg")
        assert pushed["sub"] == lobby  # the revoked streams were left; only the lobby speaks
        assert (await c.request({"t": "unsub", "sub": staff}))["error"]["code"] == "not_subscribed"
        assert await c.call("whoami") == "sam"


LAYER = InMemoryChannelLayer()
#: What both brokers (in-process and Redis pub/sub) and Channels' own group rule accept once
#: ':' is read as '.': short ASCII, letters, digits and a few separators.
SAFE = re.compile(r"^[a-z0-9_:]{1,99}$")
HOSTILE_TEXT = st.one_of(
    st.text(max_size=400),
    st.text(st.characters(codec=None, categories=None), max_size=50),  # surrogates too
    st.text(alphabet=":._-/\\ \x00\n*?[]{}#%", max_size=200),
    st.just("x" * 10_000),
    st.just("ch:chat:" + "0" * 40),
)


@given(a=HOSTILE_TEXT, b=HOSTILE_TEXT)
@hsettings(max_examples=300, deadline=None, derandomize=CI)
def test_group_names_valid_for_every_layer_and_never_collide(a: str, b: str) -> None:
    streams = {
        (cls, v): cls.stream_for(cls.Params(**{field: v}))
        for cls, field in ((ChatChannel, "room"), (GuardedChannel, "mode"))
        for v in (a, b)
    }
    for stream in streams.values():
        assert SAFE.match(stream), stream[:120]
        assert LAYER.require_valid_group_name(stream.replace(":", "."))
        assert RedisBackend.channel(stream).isascii()
    # Injective: equal only when channel and group value are both equal.
    for (c1, v1), s1 in streams.items():
        for (c2, v2), s2 in streams.items():
            assert (s1 == s2) == (c1 is c2 and v1 == v2), (c1.name, c2.name)


def test_no_params_reach_a_user_session_or_global_stream() -> None:
    news = NewsChannel.stream_for(NewsChannel.Params())
    for stream in (news, ChatChannel.stream_for(ChatChannel.Params(room="u:1"))):
        assert stream.startswith("ch:") and not stream.startswith(("u:", "s:", "all"))
