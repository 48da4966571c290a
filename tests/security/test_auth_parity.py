"""Auth parity: HTTP and the socket decide every `auth=` rule identically, for every kind of
user, and an inactive user is always refused (even by a predicate that would admit them).

Users x rules x transports is small enough to run whole; the property test then interleaves
calls and identity switches on one socket, so a socket that was someone else a moment ago
never keeps their privileges.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.contrib.auth.models import User
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from mizan_channels import mwt
from mizan_channels.testing import MizanCommunicator
from tests.conftest import TIMEOUT
from tests.sockets import sock

pytestmark = pytest.mark.django_db(transaction=True)
CI = os.environ.get("CI", "").lower() == "true"

USERS = ["anonymous", "active", "inactive", "staff", "superuser"]
#: auth=True, "staff", "superuser", a callable (names starting with "a"), a raising callable.
RULES = ["whoami", "staff_only", "super_only", "a_users", "broken_rule"]
STATUS = {"ok": 200, "unauthorized": 401, "forbidden": 403}


def expected(user: str, rule: str) -> str:
    """The decision, written out independently of mizan's code."""
    if rule == "broken_rule":
        return "forbidden"  # a predicate that raises refuses everyone, logged in or not
    if user in ("anonymous", "inactive"):
        return "unauthorized"
    if rule == "whoami":
        return "ok"
    if rule == "staff_only":
        return "ok" if user in ("staff", "superuser") else "forbidden"
    if rule == "super_only":
        return "ok" if user == "superuser" else "forbidden"
    if rule == "a_users":
        return "ok" if user == "active" else "forbidden"  # only "ann" starts with "a"
    raise AssertionError(rule)


def make_users() -> dict[str, User]:
    return {
        "active": User.objects.create_user("ann", password="pw"),
        # Starts with "a", so a predicate that forgot is_active would admit them.
        "inactive": User.objects.create_user("avi", password="pw", is_active=False),
        "staff": User.objects.create_user("sam", password="pw", is_staff=True),
        "superuser": User.objects.create_superuser("sue", password="pw"),
    }


def http_decision(users: dict[str, User], who: str, fn: str) -> str:
    c = Client()
    if who != "anonymous":
        c.force_login(users[who])  # a session even for the inactive user
    r = c.post(f"/api/mizan/call/{fn}", data="{}", content_type="application/json")
    body = r.json()
    code = "ok" if r.status_code == 200 else body["error"]["code"]
    assert r.status_code == STATUS[code], (r.status_code, body)
    return code


async def ws_decision(c: MizanCommunicator, fn: str) -> str:
    reply = await c.request({"t": "call", "fn": fn})
    return "ok" if reply["t"] == "ok" else str(reply["error"]["code"])


@pytest.fixture
def users(transactional_db: None) -> dict[str, User]:
    return make_users()


@pytest.mark.parametrize("who", USERS)
async def test_every_rule_decided_alike_on_both_transports(
    users: dict[str, User], who: str
) -> None:
    user = users.get(who)
    async with sock(user=user) as c:
        for fn in RULES:
            over_http = await sync_to_async(http_decision)(users, who, fn)
            over_ws = await ws_decision(c, fn)
            assert over_http == over_ws == expected(who, fn), (who, fn, over_http, over_ws)


async def test_inactive_user_refused_by_token_too(users: dict[str, User]) -> None:
    token, _ = await sync_to_async(mwt.issue)(users["inactive"])
    async with sock() as c:
        assert (await c.request({"t": "auth", "token": token}))["error"]["code"] == "unauthorized"
        for fn in RULES:
            assert await ws_decision(c, fn) == expected("inactive", fn) != "ok"


STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("become"), st.sampled_from(["active", "staff", "superuser"])),
        st.tuples(st.just("call"), st.sampled_from(RULES)),
    ),
    min_size=1,
    max_size=12,
)


@pytest.mark.django_db(transaction=True)
@given(steps=STEPS)
@hsettings(
    max_examples=40,
    deadline=None,
    derandomize=CI,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_identity_switches_on_one_socket_never_keep_old_privileges(
    users: dict[str, User], steps: list[tuple[str, str]]
) -> None:
    tokens = {who: mwt.issue(users[who])[0] for who in ("active", "staff", "superuser")}
    seen: list[Any] = []

    async def scenario() -> None:
        async with MizanCommunicator(timeout=TIMEOUT) as c:
            current = "anonymous"
            for op, arg in steps:
                if op == "become":
                    reply = await c.request({"t": "auth", "token": tokens[arg]})
                    assert reply["t"] == "ok"
                    current = arg
                else:
                    decision = await ws_decision(c, arg)
                    seen.append((current, arg, decision))
                    assert decision == expected(current, arg), (current, arg, decision)

    async_to_sync(scenario)()
    for who, fn, decision in seen:  # and HTTP agrees with every decision the socket made
        assert http_decision(users, who, fn) == decision, json.dumps([who, fn, decision])
