"""Checks of settings: the two secrets (an error when DEBUG is False, a warning in
development so the example and a fresh project still start), the settings' values, and a
context cache that can't be shared by the processes that share invalidations."""

from __future__ import annotations

import difflib
from dataclasses import fields
from typing import Any

import asgiref
from django.conf import settings
from django.core import checks

from .. import conf, threads
from ..broker import redis_url

MIN_SECRET = 32
WEAK = {"", "changeme", "secret", "..."}


def _secret_problem(name: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return f"{name} is not set."
    if value in WEAK or len(value) < MIN_SECRET:
        return f"{name} is weak: use at least {MIN_SECRET} random characters."
    if value == getattr(settings, "SECRET_KEY", None):
        return f"{name} equals SECRET_KEY; it must be a separate secret."
    return None


@checks.register(checks.Tags.security, deploy=False)
def check_secrets(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    s = conf.get()
    out: list[checks.CheckMessage] = []
    level = checks.Warning if settings.DEBUG else checks.Error
    hint = (
        "Generate one with `python -c 'import secrets; print(secrets.token_urlsafe(48))'` "
        "and set it from the environment in settings.py."
    )
    letter = "W" if level is checks.Warning else "E"
    for number, name, value in (
        (1, "MIZAN_CACHE_SECRET", s.CACHE_SECRET),
        (2, "MIZAN_MWT_SECRET", s.MWT_SECRET),
    ):
        problem = _secret_problem(name, value)
        if problem:
            out.append(level(problem, hint=hint, id=f"mizan_channels.{letter}00{number}"))
    if s.CACHE_SECRET and s.CACHE_SECRET == s.MWT_SECRET:
        out.append(
            level(
                "MIZAN_CACHE_SECRET and MIZAN_MWT_SECRET are the same value.",
                hint="Use two independent secrets so one leaking does not expose the other.",
                id=f"mizan_channels.{letter}003",
            )
        )
    return out


#: Settings that must be positive integers (counts, bytes) or positive numbers (seconds).
POSITIVE_INTS = (
    "MAX_FRAME_BYTES",
    "RATE_LIMIT",
    "RATE_ABUSE_STRIKES",
    "MAX_IN_FLIGHT",
    "MAX_SUBSCRIPTIONS",
    "SEND_BUFFER_BYTES",
    "MWT_TTL",
    "CACHE_TIMEOUT",
)
POSITIVE_SECONDS = ("RESUBSCRIBE_WITHIN", "PRESENCE_HEARTBEAT", "PRESENCE_TTL")


def _bad_numbers(s: conf.MizanSettings) -> list[checks.CheckMessage]:
    out: list[checks.CheckMessage] = []
    for name in POSITIVE_INTS + POSITIVE_SECONDS:
        value = getattr(s, name)
        kinds = (int,) if name in POSITIVE_INTS else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
            what = "integer" if name in POSITIVE_INTS else "number of seconds"
            out.append(
                checks.Error(
                    f"MIZAN_{name} must be a positive {what}, got {value!r}.",
                    hint=f"Remove MIZAN_{name} to use the default, or set a number above 0.",
                    id="mizan_channels.E010",
                )
            )
    return out


def _unknown_settings() -> list[checks.CheckMessage]:
    """A misspelt MIZAN_ setting is otherwise ignored without a word, and its default used."""
    known = [conf.PREFIX + f.name for f in fields(conf.MizanSettings)]
    out: list[checks.CheckMessage] = []
    for name in dir(settings):
        if name.startswith(conf.PREFIX) and name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            out.append(
                checks.Warning(
                    f"{name} is not a mizan-channels setting; it has no effect.",
                    hint=f"Did you mean {close[0]}?" if close else "See the README's settings.",
                    id="mizan_channels.W016",
                )
            )
    return out


@checks.register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    s = conf.get()
    bad_numbers = _bad_numbers(s)
    out: list[checks.CheckMessage] = [*bad_numbers, *_unknown_settings()]
    # Compared only when both are numbers; a typo'd other setting (W016) must not hide it.
    if not bad_numbers and s.PRESENCE_TTL < 2 * s.PRESENCE_HEARTBEAT:
        out.append(
            checks.Error(
                f"MIZAN_PRESENCE_TTL ({s.PRESENCE_TTL}) is less than twice "
                f"MIZAN_PRESENCE_HEARTBEAT ({s.PRESENCE_HEARTBEAT}): live processes would be "
                "swept between heartbeats (the first presence subscription would fail).",
                hint="Raise MIZAN_PRESENCE_TTL or shorten MIZAN_PRESENCE_HEARTBEAT.",
                id="mizan_channels.E017",
            )
        )
    if type(s.SYNC_WORKERS) is not int or s.SYNC_WORKERS < 0:
        out.append(
            checks.Error(
                f"MIZAN_SYNC_WORKERS must be 0 or a positive integer, got {s.SYNC_WORKERS!r}.",
                hint="0 (the default) sizes the pool like the stdlib: min(32, CPUs + 4).",
                id="mizan_channels.E010",
            )
        )
    if not isinstance(s.WS_PATH, str) or not s.WS_PATH.startswith("/"):
        out.append(
            checks.Error(
                f"MIZAN_WS_PATH must be a path starting with '/', got {s.WS_PATH!r}.",
                hint="For example MIZAN_WS_PATH = '/ws/mizan/'.",
                id="mizan_channels.E011",
            )
        )
    if "*" in getattr(settings, "ALLOWED_HOSTS", []):
        out.append(
            checks.Warning(
                "ALLOWED_HOSTS contains '*': the socket's origin check then admits pages from "
                "any site, which can open sockets with a visitor's session cookie.",
                hint="List your hosts in ALLOWED_HOSTS (e.g. ['chat.example.com']).",
                id="mizan_channels.W013",
            )
        )
    if not threads.native_hop():
        out.append(
            checks.Info(
                f"asgiref {asgiref.__version__} is not a version mizan's sync hop was checked "
                "with (3.8 to 3.13): `def` functions and hooks run through asgiref's "
                "SyncToAsync instead, which behaves the same at about 30% more CPU per call.",
                hint="Upgrade mizan-channels, or keep asgiref below 3.14 where that CPU matters.",
                id="mizan_channels.I014",
            )
        )
    if "channels" not in settings.INSTALLED_APPS and "daphne" not in settings.INSTALLED_APPS:
        out.append(
            checks.Warning(
                "'channels' is not in INSTALLED_APPS.",
                hint="Add 'channels' (or 'daphne' first) to INSTALLED_APPS for the socket.",
                id="mizan_channels.W012",
            )
        )
    return out


def _process_local_alias(alias: str) -> bool:
    caches = getattr(settings, "CACHES", {})
    return "locmem" in str(caches.get(alias, {}).get("BACKEND", "")).lower()


@checks.register(checks.Tags.caches)
def check_cache(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """With Redis fan-out, process B's mutation tells sockets on process A to refetch; a
    cache of A's own still holds what B dropped, so the refetch reads a stale value. With no
    cache setting the cache follows the fan-out's Redis; this catches an alias that opts out."""
    s = conf.get()
    fanout = redis_url()
    if not s.CACHE_SECRET or not s.CACHE_ALIAS or not fanout:
        return []
    if not _process_local_alias(s.CACHE_ALIAS):
        return []
    return [
        checks.Warning(
            f"MIZAN_CACHE_ALIAS={s.CACHE_ALIAS!r} is a memory cache of each process, while "
            "invalidations cross processes through Redis: a refetch on one process can read "
            "a context value that another process's mutation dropped.",
            hint="Remove MIZAN_CACHE_ALIAS (the cache then shares the fan-out's Redis), or "
            f"set MIZAN_CACHE_REDIS_URL (e.g. {fanout!r}), or point the alias at a Redis "
            "cache. Silence this only when one process serves every socket.",
            id="mizan_channels.W015",
        )
    ]
