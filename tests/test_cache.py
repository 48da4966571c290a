"""The context cache: hits, misses, rev, drops, isolation between callers, and what Redis
holds (HMAC keys, sealed JSON, never a pickle), over local memory and a real Redis."""

from __future__ import annotations

import asyncio
import pickle
import secrets
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import orjson
import pytest
import redis
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpRequest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from mizan_channels import cache, cache_backends
from mizan_channels.registry import FunctionSpec, registry

PREFIX = cache.REDIS_KEY_PREFIX + ":"


def spec(name: str) -> FunctionSpec:
    found = registry.function(name)
    assert found is not None
    return found


def user_request(pk: int, username: str, password: str = "pw-hash") -> HttpRequest:
    request = HttpRequest()
    user = User(pk=pk, username=username, password=password)
    request.user = user
    return request


def session_request(key: str | None) -> HttpRequest:
    request = HttpRequest()
    request.user = AnonymousUser()
    request.session = SessionStore(session_key=key)  # type: ignore[assignment]
    return request


class Source:
    """A compute function that says whose value it computed and how many times."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, who: str) -> Any:
        async def compute() -> bytes:
            self.calls.append(who)
            return orjson.dumps({"who": who, "n": len(self.calls)})

        return compute


async def get(fn: FunctionSpec, request: Any, source: Source, who: str) -> dict[str, Any]:
    compute = source(who)
    (value,) = await cache.cached_many([fn], request, lambda _spec: compute())
    return dict(orjson.loads(value))


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def clear_redis(url: str) -> None:
    client = redis_client(url)
    keys = list(client.scan_iter(PREFIX + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def wipe(url: str) -> None:
    """Forget every cache entry: ours in Redis (never FLUSHDB: the database is shared), or
    the local-memory cache."""
    if url:
        clear_redis(url)
        return
    store = cache.store()
    if store is not None:
        store.cache.clear()


def use_backend(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    """Point the cache at local memory or the real Redis (request.param), with a fresh secret
    per test; yields the Redis URL, or "" for local memory. Other test modules reuse it."""
    settings.MIZAN_CACHE_SECRET = "test-" + secrets.token_urlsafe(32)
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    settings.MIZAN_CACHE_REDIS_URL = url
    wipe(url)
    yield url
    wipe(url)


@pytest.fixture(params=["locmem", "redis"])
def backend(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    yield from use_backend(request, settings)


@pytest.fixture
def redis_only(settings: Any, redis_url: str) -> Iterator[str]:
    """The cache over the real Redis only, for tests that inspect what Redis holds."""
    settings.MIZAN_CACHE_SECRET = "test-" + secrets.token_urlsafe(32)
    settings.MIZAN_CACHE_REDIS_URL = redis_url
    wipe(redis_url)
    yield redis_url
    wipe(redis_url)


async def test_miss_then_hit(backend: str) -> None:
    source, ann = Source(), user_request(1, "ann")
    first = await get(spec("mine"), ann, source, "ann")
    second = await get(spec("mine"), ann, source, "ann")
    assert first == second == {"who": "ann", "n": 1}
    assert source.calls == ["ann"]


async def test_rev_bump_never_serves_old_entries(backend: str) -> None:
    source, ann = Source(), user_request(1, "ann")
    v1 = spec("mine")
    await get(v1, ann, source, "ann")
    v2 = replace(v1, rev=2)
    assert await get(v2, ann, source, "ann") == {"who": "ann", "n": 2}
    assert await get(v2, ann, source, "ann") == {"who": "ann", "n": 2}
    # The rev-1 entry still exists; only rev 1 can reach it.
    assert await get(v1, ann, source, "ann") == {"who": "ann", "n": 1}


async def test_drop_for_one_user_leaves_others(backend: str) -> None:
    source = Source()
    ann, bob = user_request(1, "ann"), user_request(2, "bob")
    await get(spec("mine"), ann, source, "ann")
    await get(spec("mine"), bob, source, "bob")
    await cache.adrop([{"ctx": "mine"}], cache.user_scope(1))
    assert (await get(spec("mine"), ann, source, "ann"))["n"] == 3
    assert (await get(spec("mine"), bob, source, "bob"))["n"] == 2
    assert source.calls == ["ann", "bob", "ann"]


async def test_drop_for_everyone(backend: str) -> None:
    source = Source()
    ann, bob = user_request(1, "ann"), user_request(2, "bob")
    await get(spec("mine"), ann, source, "ann")
    await get(spec("mine"), bob, source, "bob")
    cache.drop([{"fn": "mine"}], None)  # the sync twin, as invalidate() uses it
    await get(spec("mine"), ann, source, "ann")
    await get(spec("mine"), bob, source, "bob")
    assert source.calls == ["ann", "bob", "ann", "bob"]


async def test_drop_by_function_key_spares_the_rest_of_the_context(backend: str) -> None:
    source, ann = Source(), user_request(1, "ann")
    await get(spec("mine"), ann, source, "mine")
    await get(spec("mine_too"), ann, source, "mine_too")
    await cache.adrop([{"fn": "mine_too"}], cache.user_scope(1))
    await get(spec("mine"), ann, source, "mine")
    await get(spec("mine_too"), ann, source, "mine_too")
    assert source.calls == ["mine", "mine_too", "mine_too"]


async def test_shared_function_cached_once_for_everyone(backend: str) -> None:
    source = Source()
    for request in (user_request(1, "ann"), user_request(2, "bob"), session_request("s" * 32)):
        assert await get(spec("board"), request, source, "everyone") == {"who": "everyone", "n": 1}
    # A personal drop can't touch a shared entry; a drop for everyone does.
    await cache.adrop([{"fn": "board"}], cache.user_scope(1))
    assert (await get(spec("board"), user_request(2, "bob"), source, "everyone"))["n"] == 2


async def test_anonymous_cached_per_session_and_not_without_one(backend: str) -> None:
    source = Source()
    one, two = session_request("a" * 32), session_request("b" * 32)
    assert (await get(spec("mine"), one, source, "one"))["who"] == "one"
    assert (await get(spec("mine"), two, source, "two"))["who"] == "two"
    assert (await get(spec("mine"), one, source, "one"))["who"] == "one"
    nobody = session_request(None)
    await get(spec("mine"), nobody, source, "anon")
    await get(spec("mine"), nobody, source, "anon")
    assert source.calls == ["one", "two", "anon", "anon"]


async def test_reused_primary_key_is_another_user(backend: str) -> None:
    source = Source()
    await get(spec("mine"), user_request(7, "ann", "hash-a"), source, "ann")
    later = user_request(7, "zed", "hash-z")  # row deleted, id handed out again
    assert (await get(spec("mine"), later, source, "zed"))["who"] == "zed"
    changed = user_request(7, "zed", "hash-z2")  # password changed: entries retired
    assert (await get(spec("mine"), changed, source, "zed"))["n"] == 3


async def test_no_secret_means_no_caching(backend: str, settings: Any) -> None:
    settings.MIZAN_CACHE_SECRET = ""
    source, ann = Source(), user_request(1, "ann")
    await get(spec("mine"), ann, source, "ann")
    await get(spec("mine"), ann, source, "ann")
    assert source.calls == ["ann", "ann"]


async def test_concurrent_fetches_of_a_context_compute_concurrently(backend: str) -> None:
    started: list[str] = []
    both = asyncio.Event()

    async def compute(fn: FunctionSpec) -> bytes:
        started.append(fn.name)
        if len(started) == 2:
            both.set()
        await asyncio.wait_for(both.wait(), 5)
        return b"1"

    specs = [spec("mine"), spec("mine_too")]
    assert await cache.cached_many(specs, user_request(1, "ann"), compute) == [b"1", b"1"]


async def test_unreachable_redis_falls_back_to_computing(settings: Any) -> None:
    settings.MIZAN_CACHE_REDIS_URL = "redis://127.0.0.1:1/0"
    source, ann = Source(), user_request(1, "ann")
    assert (await get(spec("mine"), ann, source, "ann"))["n"] == 1
    assert (await get(spec("mine"), ann, source, "ann"))["n"] == 2
    await cache.adrop([{"ctx": "mine"}], None)  # logged, not raised


async def test_an_unreachable_cache_is_logged_in_one_line(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """An outage is not a bug: one line per failure, like the broker's, not a traceback."""
    settings.MIZAN_CACHE_REDIS_URL = "redis://127.0.0.1:1/0"
    await cache.adrop([{"ctx": "mine"}], None)
    (record,) = [r for r in caplog.records if "not dropped" in r.getMessage()]
    assert record.levelname == "ERROR" and record.exc_info is None
    assert "Connection refused" in record.getMessage()


# What Redis holds -----------------------------------------------------------------------


def entry_keys(url: str) -> set[bytes]:
    client = redis_client(url)
    try:
        return {k for k in client.scan_iter(PREFIX + "*") if k.split(b":")[-1].startswith(b"e")}
    finally:
        client.close()


async def test_redis_holds_hmac_keys_and_sealed_json(redis_only: str) -> None:
    session_key = "q" * 32
    await get(spec("mine"), session_request(session_key), Source(), "anon-visitor")
    client = redis_client(redis_only)
    try:
        keys = list(client.scan_iter(PREFIX + "*"))
        assert keys
        for key in keys:
            assert session_key.encode() not in key and b"mine" not in key
        (entry,) = entry_keys(redis_only)
        raw = client.get(entry)
    finally:
        client.close()
    # A 32-byte MAC, then the JSON itself: nothing pickled (a pickle would start b"\x80",
    # but so does one MAC in 256, which made this test fail now and then).
    assert raw is not None and raw[32:33] == b"{"
    assert orjson.loads(raw[32:]) == {"who": "anon-visitor", "n": 1}


async def test_tampered_value_is_a_miss(redis_only: str) -> None:
    source, ann = Source(), user_request(1, "ann")
    await get(spec("mine"), ann, source, "ann")
    (entry,) = entry_keys(redis_only)
    client = redis_client(redis_only)
    try:
        raw = client.get(entry)
        assert raw is not None
        client.set(entry, raw.replace(b'"ann"', b'"eve"'))
    finally:
        client.close()
    assert await get(spec("mine"), ann, source, "ann") == {"who": "ann", "n": 2}


class Boom:
    ran = False

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, ("import tests.test_cache as t; t.Boom.ran = True",))


async def test_pickle_in_redis_is_never_unpickled(redis_only: str) -> None:
    source, ann = Source(), user_request(1, "ann")
    await get(spec("mine"), ann, source, "ann")
    client = redis_client(redis_only)
    try:
        for key in client.scan_iter(PREFIX + "*"):  # entries and generation tokens alike
            client.set(key, pickle.dumps(Boom()))
    finally:
        client.close()
    assert (await get(spec("mine"), ann, source, "ann"))["who"] == "ann"
    assert Boom.ran is False


async def test_entry_moved_to_another_users_key_is_a_miss(redis_only: str) -> None:
    source = Source()
    await get(spec("mine"), user_request(1, "ann"), source, "ann")
    (ann_key,) = entry_keys(redis_only)
    await get(spec("mine"), user_request(2, "bob"), source, "bob")
    (bob_key,) = entry_keys(redis_only) - {ann_key}
    client = redis_client(redis_only)
    try:
        client.set(bob_key, client.get(ann_key) or b"")
    finally:
        client.close()
    assert (await get(spec("mine"), user_request(2, "bob"), source, "bob"))["who"] == "bob"


async def test_lost_generation_tokens_never_revive_dropped_entries(redis_only: str) -> None:
    source, ann = Source(), user_request(1, "ann")
    await get(spec("mine"), ann, source, "ann")
    await cache.adrop([{"ctx": "mine"}], cache.user_scope(1))
    client = redis_client(redis_only)
    try:  # memory pressure evicts every generation token, none of the entries
        gens = [k for k in client.scan_iter(PREFIX + "*") if k.split(b":")[-1].startswith(b"g")]
        client.delete(*gens)
    finally:
        client.close()
    assert (await get(spec("mine"), ann, source, "ann"))["n"] == 2


# Isolation, as a property ---------------------------------------------------------------

CALLERS = {
    "ann": lambda: user_request(1, "ann"),
    "bob": lambda: user_request(2, "bob"),
    "s1": lambda: session_request("1" * 32),
    "s2": lambda: session_request("2" * 32),
    "anon": lambda: session_request(None),
}
OPS = st.lists(
    st.tuples(
        st.sampled_from(["fetch", "fetch", "fetch", "drop_own", "drop_all"]),
        st.sampled_from(sorted(CALLERS)),
        st.sampled_from(["mine", "mine_too"]),
    ),
    min_size=1,
    max_size=25,
)
SCOPES = {"ann": cache.user_scope(1), "bob": cache.user_scope(2)}


@given(ops=OPS)
@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_caller_only_ever_sees_its_own_fresh_value(backend: str, ops: list[Any]) -> None:
    """Whatever the interleaving of callers, fetches and drops: every fetch returns a value
    computed for that caller, and never one computed before a drop that covered it."""

    async def scenario() -> None:
        wipe(backend)
        source = Source()
        latest: dict[tuple[str, str], int] = {}  # (caller, fn) -> n of the newest value
        stale: set[tuple[str, str]] = set()
        for op, who, fn in ops:
            scope = SCOPES.get(who) or (
                None if who == "anon" else "s:" + CALLERS[who]().session.session_key
            )
            if op == "fetch":
                value = await get(spec(fn), CALLERS[who](), source, who)
                assert value["who"] == who
                if (who, fn) in stale or (who, fn) not in latest:
                    assert value["n"] > latest.get((who, fn), 0)
                else:
                    assert value["n"] == latest[(who, fn)]
                latest[(who, fn)] = value["n"]
                stale.discard((who, fn))
                if who == "anon":  # no session: never cached, always computed afresh
                    stale.add((who, fn))
            elif op == "drop_own" and scope is not None:
                await cache.adrop([{"fn": fn}], scope)
                stale.add((who, fn))
            elif op == "drop_all":
                await cache.adrop([{"ctx": "mine"}], None)
                stale.update((c, f) for c in CALLERS for f in ("mine", "mine_too"))

    asyncio.run(scenario())


# Which cache ----------------------------------------------------------------------------


def test_alias_names_a_configured_cache(settings: Any) -> None:
    from django.core.cache import caches

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "contexts": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "x"},
    }
    settings.MIZAN_CACHE_ALIAS = "contexts"
    store = cache.store()
    assert store is not None and store.cache is caches["contexts"] and store.in_process


REDIS_LAYER = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:1/4"}]},
    }
}


@pytest.mark.parametrize("fanout", ["MIZAN_REDIS_URL", "CHANNEL_LAYERS"])
def test_without_cache_settings_the_cache_follows_the_fanout_redis(
    settings: Any, fanout: str
) -> None:
    """Fan-out across processes needs a cache they share: a refetch on one process must not
    read a value another process's mutation dropped (docs/contexts.md)."""
    if fanout == "MIZAN_REDIS_URL":
        settings.MIZAN_REDIS_URL = "redis://127.0.0.1:1/4"
    else:
        settings.CHANNEL_LAYERS = REDIS_LAYER
    store = cache.store()
    assert store is not None and not store.in_process
    assert isinstance(store.cache, cache_backends.MizanRedisCache)
    assert store.cache._servers == ["redis://127.0.0.1:1/4"]  # type: ignore[attr-defined]


def test_cache_redis_url_wins_over_the_fanout_redis(settings: Any) -> None:
    settings.MIZAN_REDIS_URL = "redis://127.0.0.1:1/4"
    settings.MIZAN_CACHE_REDIS_URL = "redis://127.0.0.1:1/5"
    store = cache.store()
    assert store is not None
    assert store.cache._servers == ["redis://127.0.0.1:1/5"]  # type: ignore[attr-defined]


def test_alias_to_a_pickling_redis_cache_is_warned_about(
    settings: Any, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "contexts": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
        },
    }
    settings.MIZAN_CACHE_ALIAS = "contexts"
    cache.store()
    assert "BytesSerializer" in caplog.text


def test_bytes_serializer_refuses_anything_but_bytes() -> None:
    serializer = cache.BytesSerializer()
    assert serializer.loads(serializer.dumps(b"\x80\x04x")) == b"\x80\x04x"
    with pytest.raises(TypeError, match="bytes only"):
        serializer.dumps({"a": 1})
