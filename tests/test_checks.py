"""System checks: misconfiguration is caught at start-up, with an id and a hint."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks

from mizan_channels import client, register
from mizan_channels.checks import check_registry, check_secrets, check_settings
from mizan_channels.registry import registry

STRONG = "x" * 48


def ids(messages: list[checks.CheckMessage]) -> list[str]:
    return sorted(str(m.id) for m in messages)


def test_configured_project_passes(settings: Any) -> None:
    assert check_secrets() == []
    assert check_settings() == []
    assert check_registry() == []


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


@pytest.mark.parametrize("name", ["MAX_FRAME_BYTES", "RATE_LIMIT", "MAX_IN_FLIGHT", "MWT_TTL"])
def test_limits_must_be_positive_ints(settings: Any, name: str) -> None:
    setattr(settings, f"MIZAN_{name}", 0)
    found = check_settings()
    assert ids(found) == ["mizan_channels.E010"] and f"MIZAN_{name}" in found[0].msg


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
