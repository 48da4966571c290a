"""Context cache over the real Redis, attacked from outside: through the HTTP context endpoint
a user only ever receives values computed for them, and a byte flipped anywhere in a stored
value makes it a miss (recomputed, never served). Unpickling is proven absent in
tests/test_cache.py; here the whole package is checked never to import pickle.
"""

from __future__ import annotations

import ast
import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from mizan_channels import cache
from tests.servers import ROOT

CI = os.environ.get("CI", "").lower() == "true"
PREFIX = cache.REDIS_KEY_PREFIX + ":"
NAMES = ["ann", "bob", "cy"]


@pytest.fixture
def real_cache(settings: Any, redis_url: str) -> Iterator[redis.Redis]:
    settings.MIZAN_CACHE_SECRET = "sec-" + secrets.token_urlsafe(32)
    settings.MIZAN_CACHE_REDIS_URL = redis_url
    client = redis.Redis.from_url(redis_url)

    def wipe() -> None:
        keys = list(client.scan_iter(PREFIX + "*"))
        if keys:
            client.delete(*keys)

    wipe()
    yield client
    wipe()
    client.close()


@pytest.fixture
def browsers(transactional_db: None) -> dict[str, Client]:
    out = {}
    for name in NAMES:
        user = User.objects.create_user(name, password="pw")
        c = Client()
        c.force_login(user)
        out[name] = c
    out["visitor"] = Client()
    return out


def fetch(c: Client) -> dict[str, Any]:
    r = c.get("/api/mizan/ctx/mine")
    assert r.status_code == 200, r.content
    return dict(r.json()["data"])


@pytest.mark.redis
@given(order=st.lists(st.sampled_from([*NAMES, "visitor"]), min_size=1, max_size=12))
@hsettings(
    max_examples=40,
    derandomize=CI,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_a_user_only_receives_their_own_context(
    real_cache: redis.Redis, browsers: dict[str, Client], order: list[str]
) -> None:
    for who in order:
        data = fetch(browsers[who])
        assert data
        for value in data.values():
            if who == "visitor":
                assert not value["who"].startswith("u:"), value
            else:
                assert value["who"] == "u:" + who, (who, value)


def entries(client: redis.Redis) -> list[bytes]:
    return [k for k in client.scan_iter(PREFIX + "*") if k.split(b":")[-1].startswith(b"e")]


@pytest.mark.redis
@given(position=st.integers(min_value=0), bit=st.integers(0, 7))
@hsettings(
    max_examples=40,
    derandomize=CI,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_a_flipped_byte_anywhere_is_a_miss(
    real_cache: redis.Redis, browsers: dict[str, Client], position: int, bit: int
) -> None:
    for key in entries(real_cache):
        real_cache.delete(key)
    first = fetch(browsers["ann"])
    assert fetch(browsers["ann"]) == first  # served from the cache
    for key in entries(real_cache):
        raw = bytearray(real_cache.get(key) or b"")
        raw[position % len(raw)] ^= 1 << bit
        real_cache.set(key, bytes(raw))
    again = fetch(browsers["ann"])
    assert again.keys() == first.keys()
    for name, value in again.items():
        assert value["who"] == "u:ann"
        assert value["n"] > first[name]["n"], "a tampered entry was served"


def test_the_package_never_imports_pickle() -> None:
    for path in (ROOT / "mizan_channels").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] not in ("pickle", "marshal") for a in node.names), (
                    path
                )
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] not in ("pickle", "marshal"), path
