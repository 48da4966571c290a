"""System checks: misconfiguration is caught at start-up, with an id and a hint."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.core import checks

from mizan_channels import client, register
from mizan_channels.checks import (
    check_asgi,
    check_cache,
    check_layers,
    check_registry,
    check_secrets,
    check_settings,
    check_urls,
)
from mizan_channels.consumers.socket import MizanConsumer
from mizan_channels.registry import registry

STRONG = "x" * 48


def ids(messages: list[checks.CheckMessage]) -> list[str]:
    return sorted(str(m.id) for m in messages)


def test_configured_project_passes(settings: Any) -> None:
    assert check_secrets() == []
    assert check_settings() == []
    assert check_registry() == []
    assert check_cache() == []
    assert check_urls() == []
    assert check_asgi() == []


@pytest.mark.parametrize("value", [None, "", "short", "..."])
def test_missing_or_weak_secret_is_error_in_production(settings: Any, value: Any) -> None:
    settings.DEBUG = False
    settings.MIZAN_CACHE_SECRET = value
    found = check_secrets()
    assert ids(found) == ["mizan_channels.E001"]
    assert found[0].level == checks.ERROR and "secrets.token_urlsafe" in (found[0].hint or "")


def test_weak_secret_is_warning_in_development(settings: Any) -> None:
    settings.DEBUG = True
    settings.MIZAN_MWT_SECRET = "dev"
    found = check_secrets()
    assert ids(found) == ["mizan_channels.W002"] and found[0].level == checks.WARNING


def test_secret_reused_from_secret_key_or_each_other(settings: Any) -> None:
    settings.DEBUG = False
    settings.MIZAN_MWT_SECRET = settings.SECRET_KEY
    assert "mizan_channels.E002" in ids(check_secrets())
    settings.MIZAN_MWT_SECRET = STRONG
    settings.MIZAN_CACHE_SECRET = STRONG
    assert ids(check_secrets()) == ["mizan_channels.E003"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_FRAME_BYTES", 0),
        ("RATE_LIMIT", 0),
        ("MAX_IN_FLIGHT", 0),
        ("MWT_TTL", 0),
        ("RATE_ABUSE_STRIKES", 0),
        ("SEND_BUFFER_BYTES", "4MB"),
        ("CACHE_TIMEOUT", -1),
        ("RESUBSCRIBE_WITHIN", 0),
        ("PRESENCE_HEARTBEAT", True),
    ],
)
def test_limits_must_be_positive_numbers(settings: Any, name: str, value: Any) -> None:
    setattr(settings, f"MIZAN_{name}", value)
    found = check_settings()
    assert ids(found) == ["mizan_channels.E010"] and f"MIZAN_{name}" in found[0].msg


def test_seconds_may_be_fractions(settings: Any) -> None:
    settings.MIZAN_RESUBSCRIBE_WITHIN = 2.5
    assert check_settings() == []


def test_presence_ttl_under_twice_the_heartbeat(settings: Any) -> None:
    settings.MIZAN_PRESENCE_HEARTBEAT = 5
    settings.MIZAN_PRESENCE_TTL = 4
    assert ids(check_settings()) == ["mizan_channels.E017"]


def test_a_typo_elsewhere_does_not_hide_the_presence_ttl_error(settings: Any) -> None:
    """W016 is a warning: E017 must still be reported, and stop wrap_asgi (daphne)."""
    from django.core.exceptions import ImproperlyConfigured

    from mizan_channels import wrap_asgi

    settings.MIZAN_PRESENCE_TTL = 6
    settings.MIZAN_RESUBSCRIBE_WITHN = 10
    assert sorted(ids(check_settings())) == ["mizan_channels.E017", "mizan_channels.W016"]
    with pytest.raises(ImproperlyConfigured, match="E017"):
        wrap_asgi(lambda *a: None)


def test_a_misspelt_setting_is_named_with_the_one_meant(settings: Any) -> None:
    settings.MIZAN_MAX_FRAME_BYTE = 1000
    (found,) = check_settings()
    assert found.id == "mizan_channels.W016" and found.level == checks.WARNING
    assert (
        "MIZAN_MAX_FRAME_BYTE " in found.msg and found.hint == "Did you mean MIZAN_MAX_FRAME_BYTES?"
    )


def test_wildcard_allowed_hosts_warns(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["*"]
    found = check_settings()
    assert ids(found) == ["mizan_channels.W013"] and found[0].level == checks.WARNING


def test_an_unverified_asgiref_is_reported_as_information(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mizan_channels import threads

    monkeypatch.setattr(threads, "_restore_context", None)
    found = check_settings()
    assert ids(found) == ["mizan_channels.I014"] and found[0].level == checks.INFO
    assert "SyncToAsync" in found[0].msg


def test_ws_path_must_be_a_path(settings: Any) -> None:
    settings.MIZAN_WS_PATH = "ws/mizan"
    assert ids(check_settings()) == ["mizan_channels.E011"]


def test_affects_an_unregistered_function() -> None:
    @client
    def never_registered(request) -> int:
        return 1

    @client(affects=never_registered)
    def mutation(request) -> int:
        return 1

    register(mutation, "check_mutation")
    try:
        found = check_registry()
        assert ids(found) == ["mizan_channels.E020"] and "never_registered" in found[0].msg
    finally:
        registry.functions.pop("check_mutation")


def test_context_mixing_shared_and_private() -> None:
    @client(context="mixed", shared=True)
    def one(request) -> int:
        return 1

    @client(context="mixed")
    def two(request) -> int:
        return 2

    register(one, "check_one")
    register(two, "check_two")
    try:
        found = check_registry()
        assert ids(found) == ["mizan_channels.E021"] and "check_two" in (found[0].hint or "")
    finally:
        registry.functions.pop("check_one")
        registry.functions.pop("check_two")


def test_checks_run_through_manage_py_check() -> None:
    from django.core.management import call_command

    call_command("check")  # raises SystemCheckError on any error


@pytest.mark.parametrize("value", [-1, 2.5, "4"])
def test_sync_workers_must_be_a_count(settings: Any, value: Any) -> None:
    settings.MIZAN_SYNC_WORKERS = value
    found = check_settings()
    assert ids(found) == ["mizan_channels.E010"] and "MIZAN_SYNC_WORKERS" in found[0].msg


LOCMEM = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
REDIS_LAYER = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:6379/3"}]},
    }
}


@pytest.mark.parametrize("fanout", ["MIZAN_REDIS_URL", "CHANNEL_LAYERS"])
def test_process_local_cache_alias_with_redis_fanout_warns(settings: Any, fanout: str) -> None:
    if fanout == "MIZAN_REDIS_URL":
        settings.MIZAN_REDIS_URL = "redis://127.0.0.1:6379/3"
    else:
        settings.CHANNEL_LAYERS = REDIS_LAYER
    settings.CACHES = {"default": LOCMEM, "contexts": LOCMEM}
    settings.MIZAN_CACHE_ALIAS = "contexts"
    found = check_cache()
    assert ids(found) == ["mizan_channels.W015"] and found[0].level == checks.WARNING
    assert "redis://127.0.0.1:6379/3" in (found[0].hint or "")


def test_redis_fanout_with_the_default_cache_passes(settings: Any) -> None:
    settings.CHANNEL_LAYERS = REDIS_LAYER  # the cache then follows the fan-out's Redis
    assert check_cache() == []


def _register_mutation(affects: Any) -> None:
    @client(affects=affects)
    def mutation(request) -> int:
        return 1

    register(mutation, "check_mutation")


@pytest.mark.parametrize(
    ("affects", "hint"),
    [("usr", "Did you mean 'user'"), ("echo", "affects=echo"), ("zzz", "'global'")],
)
def test_affects_an_undeclared_context(affects: str, hint: str) -> None:
    _register_mutation(affects)
    try:
        found = check_registry()
        assert ids(found) == ["mizan_channels.W022"] and found[0].level == checks.WARNING
        assert f"affects={affects!r}" in found[0].msg and hint in (found[0].hint or "")
    finally:
        registry.functions.pop("check_mutation")


def test_clients_module_never_loaded_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    forgot = SimpleNamespace(name="tests.unloaded_app", label="unloaded_app")
    monkeypatch.setattr(apps, "get_app_configs", lambda: [*apps.app_configs.values(), forgot])
    found = check_registry()
    assert ids(found) == ["mizan_channels.W023"] and found[0].level == checks.WARNING
    assert 'mizan_clients("unloaded_app")' in (found[0].hint or "")


def test_urls_not_included_warns(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.bare_project"
    found = check_urls()
    assert ids(found) == ["mizan_channels.W030"] and found[0].level == checks.WARNING
    assert 'include("mizan_channels.urls")' in (found[0].hint or "")


def test_asgi_application_that_does_not_import(settings: Any) -> None:
    settings.ASGI_APPLICATION = "tests.no_such_module.application"
    found = check_asgi()
    assert ids(found) == ["mizan_channels.W031"] and "ModuleNotFoundError" in found[0].msg
    assert found[0].level == checks.WARNING  # never stops `migrate` in a release step


def test_asgi_application_refused_for_mizans_settings_is_not_w031_too(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """asgi.py's wrap_asgi() refusing a setting error (E017 here) is reported once, by the
    settings check, not again as W031 with a hint to call the wrap_asgi() it called."""
    from mizan_channels import wrap_asgi
    from mizan_channels.checks import wiring

    settings.MIZAN_PRESENCE_TTL = 6
    monkeypatch.setattr(wiring, "import_string", lambda path: wrap_asgi(lambda *a: None))
    assert check_asgi() == []
    assert ids(check_settings()) == ["mizan_channels.E017"]


def test_asgi_application_without_the_socket_warns(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(MizanConsumer, "mounted", False)
    settings.ASGI_APPLICATION = "tests.bare_project.application"
    found = check_asgi()
    assert ids(found) == ["mizan_channels.W032"] and "wrap_asgi" in (found[0].hint or "")


def test_a_socket_mounted_in_the_projects_own_router_counts(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(MizanConsumer, "mounted", False)
    settings.ASGI_APPLICATION = "tests.bare_project.application"
    MizanConsumer.as_asgi()  # as a project's own URLRouter entry would
    assert check_asgi() == []


def test_asgi_application_unset_with_daphne_installed_warns(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    del settings.ASGI_APPLICATION
    assert check_asgi() == []  # daphne isn't installed: nothing reads the setting
    monkeypatch.setattr(apps, "is_installed", lambda name: name == "daphne")
    assert ids(check_asgi()) == ["mizan_channels.W033"]


def test_wrap_asgi_refuses_to_start_with_a_weak_secret_in_production(settings: Any) -> None:
    # daphne runs no system checks: the application itself must not start unprotected.
    from django.core.exceptions import ImproperlyConfigured

    from mizan_channels import wrap_asgi

    settings.MIZAN_MWT_SECRET = "short"
    settings.DEBUG = False
    with pytest.raises(ImproperlyConfigured, match=r"mizan_channels\.E002"):
        wrap_asgi(lambda *a: None)
    settings.DEBUG = True  # in development it is a warning, and the server starts
    assert wrap_asgi(lambda *a: None) is not None


CORE = "channels_redis.core.RedisChannelLayer"


@pytest.mark.parametrize(
    "host",
    [
        "redis://127.0.0.1:6379",
        {"address": "redis://127.0.0.1:6379"},
        {"socket_timeout": 5},
        # redis-py's from_url lets the query win over the entry's keyword
        {"address": "redis://127.0.0.1:6379?socket_timeout=1", "socket_timeout": None},
    ],
)
@pytest.mark.parametrize("backend", [CORE, "mizan_channels.layers.RedisChannelLayer"])
def test_core_redis_layer_without_a_longer_socket_timeout_warns(
    settings: Any, host: Any, backend: str
) -> None:
    """mizan's subclass of the core layer (README, ReactChannel) blocks in BRPOP the same."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": backend, "CONFIG": {"hosts": [host]}}}
    found = check_layers()
    assert ids(found) == ["mizan_channels.W018"] and "socket_timeout" in str(found[0].hint)


@pytest.mark.parametrize(
    "layer",
    [
        {"BACKEND": CORE, "CONFIG": {"hosts": [{"address": "redis://h", "socket_timeout": 10}]}},
        {"BACKEND": CORE, "CONFIG": {"hosts": ["redis://h:6379/0?socket_timeout=10"]}},
        # redis-py's None: no timeout at all.
        {"BACKEND": CORE, "CONFIG": {"hosts": [{"address": "redis://h", "socket_timeout": None}]}},
        {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer"},
        {"BACKEND": "mizan_channels.layers.RedisPubSubChannelLayer"},
        {"BACKEND": "channels.layers.InMemoryChannelLayer"},
        {"BACKEND": "mizan_channels.layers.InMemoryChannelLayer"},
        {"BACKEND": "no_such_module.Layer"},
    ],
)
def test_layers_that_keep_idle_consumers_pass(settings: Any, layer: dict[str, Any]) -> None:
    settings.CHANNEL_LAYERS = {"default": layer}
    assert check_layers() == []


@pytest.mark.parametrize(
    ("source", "uses"),
    [
        ("from mizan_channels.client import client\n", True),
        ("from mizan.client import client  # the seed's spelling\n", True),
        ("import mizan\n", True),
        ("import requests  # an API client of another kind, mentioning mizan_x\n", False),
        ("from mizanthrope import x\n", False),
    ],
)
def test_w023_knows_a_clients_module_by_its_mizan_imports(
    tmp_path: Path, source: str, uses: bool
) -> None:
    from mizan_channels.checks.declarations import _mentions_mizan

    module = tmp_path / "clients.py"
    module.write_text(source)
    assert _mentions_mizan(str(module)) is uses
