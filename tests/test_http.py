"""HTTP transport: POST {prefix}call/{fn}, every error code and status, auth, CSRF, routes."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient, Client

URL = "/api/mizan/call/"


def post(client: Client, fn: str, body: Any = None, raw: bytes | None = None) -> Any:
    data = raw if raw is not None else json.dumps(body if body is not None else {})
    return client.post(URL + fn, data=data, content_type="application/json")


def error_of(response: Any) -> str:
    return str(response.json()["error"]["code"])


@pytest.fixture
def users(db: None) -> dict[str, User]:
    return {
        "active": User.objects.create_user("ann", password="pw"),
        "bob": User.objects.create_user("bob", password="pw"),
        "staff": User.objects.create_user("sam", password="pw", is_staff=True),
        "superuser": User.objects.create_superuser("sue", password="pw"),
        "inactive": User.objects.create_user("ian", password="pw", is_active=False),
    }


def test_sync_call_returns_typed_output(client: Client) -> None:
    r = post(client, "echo", {"text": "hi"})
    assert r.status_code == 200
    assert r.json() == {"data": {"message": "hi"}, "inv": []}


def test_async_call_and_defaults(client: Client) -> None:
    assert post(client, "aecho", {"text": "ab"}).json()["data"] == {"message": "ab"}
    assert post(client, "aecho", {"text": "ab", "times": 2}).json()["data"] == {"message": "abab"}


def test_list_and_optional_outputs(client: Client) -> None:
    assert post(client, "many", {"n": 2}).json()["data"] == [{"message": "0"}, {"message": "1"}]
    assert post(client, "maybe", {"flag": False}).json()["data"] is None


def test_http_only_function_callable_over_http(client: Client) -> None:
    assert post(client, "http_only").json()["data"] == "http"


def test_empty_body_means_no_arguments(client: Client) -> None:
    r = client.post(URL + "http_only", data=b"", content_type="application/json")
    assert r.json()["data"] == "http"


def test_unknown_function_404(client: Client) -> None:
    r = post(client, "nope")
    assert (r.status_code, error_of(r)) == (404, "unknown_function")


def test_route_function_is_not_rpc(client: Client) -> None:
    r = post(client, "hello_view", {"who": "x"})
    assert (r.status_code, error_of(r)) == (404, "not_exposed")
    r = client.get("/api/mizan/hello/bob/")
    assert r.status_code == 200 and r.content == b"hello bob"


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "text"), ({"text": 3}, "text"), ({"text": "a", "extra": 1}, "extra")],
)
def test_invalid_params_lists_each_field(client: Client, body: dict[str, Any], field: str) -> None:
    r = post(client, "echo", body)
    assert (r.status_code, error_of(r)) == (400, "invalid_params")
    details = r.json()["error"]["details"]
    assert any(d["loc"] == [field] and d["msg"] and d["type"] for d in details)


def test_invalid_params_never_echo_input_values(client: Client) -> None:
    r = post(client, "echo", {"text": {"password": "hunter2"}})
    assert "hunter2" not in r.content.decode()


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"3"])
def test_args_must_be_an_object(client: Client, raw: bytes) -> None:
    # The same code as a socket `call` whose `args` is not an object.
    r = post(client, "echo", raw=raw)
    assert (r.status_code, error_of(r)) == (400, "bad_frame")


@pytest.mark.parametrize("raw", [b"{not json", b'{"text": NaN}', b"\xff\xfe", b'"\\ud800"'])
def test_bad_json_is_bad_frame(client: Client, raw: bytes) -> None:
    r = post(client, "echo", raw=raw)
    assert (r.status_code, error_of(r)) == (400, "bad_frame")


def test_too_large_body_413(client: Client, settings: Any) -> None:
    settings.MIZAN_MAX_FRAME_BYTES = 100
    r = post(client, "echo", {"text": "x" * 200})
    assert (r.status_code, error_of(r)) == (413, "too_large")


@pytest.mark.parametrize("length", ["-1", "12abc"])
def test_a_malformed_content_length_is_bad_frame(client: Client, length: str) -> None:
    r = client.post(
        URL + "echo", data=b"{}", content_type="application/json", CONTENT_LENGTH=length
    )
    assert (r.status_code, error_of(r)) == (400, "bad_frame")


def test_user_exception_is_server_error_without_traceback(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="mizan_channels"):
        r = post(client, "boom")
    assert (r.status_code, error_of(r)) == (500, "server_error")
    assert "secret internals" not in r.content.decode()
    assert "Traceback" not in r.content.decode()
    record = next(rec for rec in caplog.records if "boom" in rec.getMessage())
    assert record.exc_info is not None  # logged with its traceback


def test_mizan_error_from_function_keeps_its_code(client: Client) -> None:
    r = post(client, "refuse")
    assert (r.status_code, error_of(r)) == (403, "forbidden")


@pytest.mark.parametrize("fn", ["bad_output", "surrogate", "unserializable"])
def test_unserializable_output_is_server_error(client: Client, fn: str) -> None:
    r = post(client, fn)
    assert (r.status_code, error_of(r)) == (500, "server_error")


AUTH_MATRIX = [
    # (function, user, expected status)
    ("whoami", None, 401),
    ("whoami", "active", 200),
    ("whoami", "inactive", 401),
    ("staff_only", None, 401),
    ("staff_only", "active", 403),
    ("staff_only", "staff", 200),
    ("staff_only", "superuser", 200),
    ("super_only", "staff", 403),
    ("super_only", "superuser", 200),
    ("a_users", None, 401),
    ("a_users", "active", 200),  # ann
    ("a_users", "bob", 403),
    ("broken_rule", "active", 403),
]


@pytest.mark.parametrize(("fn", "who", "status"), AUTH_MATRIX)
def test_auth_rules_over_http(
    client: Client, users: dict[str, User], fn: str, who: str | None, status: int
) -> None:
    if who is not None:
        client.force_login(users[who])
    r = post(client, fn)
    assert r.status_code == status, r.content


def test_csrf_enforced_for_session_authenticated_calls(users: dict[str, User]) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(users["active"])
    r = post(strict, "whoami")
    assert r.status_code == 403  # Django's CSRF failure, before our view runs
    strict.get("/api/mizan/ctx/rooms")  # a page's first context fetch sets the cookie
    token = strict.cookies["csrftoken"].value
    r = strict.post(
        URL + "whoami", data="{}", content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert r.status_code == 200 and r.json()["data"] == "ann"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", "call/echo", "POST"),
        ("put", "call/echo", "POST"),
        ("post", "ctx/global", "GET"),
        ("delete", "mwt", "GET"),
    ],
)
def test_wrong_method_is_405_with_the_protocols_error(
    client: Client, method: str, path: str, allowed: str
) -> None:
    """Not an empty HTML page: a client reads `error` from every refusal."""
    r = getattr(client, method)("/api/mizan/" + path)
    assert (r.status_code, r["Allow"], r["Content-Type"]) == (405, allowed, "application/json")
    assert r.json()["error"]["code"] == "bad_frame"


def test_mwt_issue_requires_login(client: Client, users: dict[str, User]) -> None:
    r = client.get("/api/mizan/mwt")
    assert (r.status_code, error_of(r)) == (401, "unauthorized")
    client.force_login(users["active"])
    r = client.get("/api/mizan/mwt")
    body = r.json()
    assert r.status_code == 200 and body["token"] and body["expires"] > 0
    assert r["Cache-Control"] == "no-store"


def test_mwt_issue_without_a_secret_is_a_json_server_error(
    client: Client, users: dict[str, User], settings: Any
) -> None:
    # Every HTTP failure carries the protocol's `{"error": ...}` body (protocol.md), and a
    # signed-in user must not be told `unauthorized` (a client would think it signed out).
    settings.MIZAN_MWT_SECRET = ""
    client.force_login(users["active"])
    r = client.get("/api/mizan/mwt")
    assert (r.status_code, error_of(r)) == (500, "server_error")
    assert "MIZAN_MWT_SECRET" in r.json()["error"]["message"]


@pytest.mark.django_db(transaction=True)
async def test_two_slow_sync_calls_run_concurrently() -> None:
    """Both calls must be inside the function at once to pass the barrier."""
    c = AsyncClient()
    r1, r2 = await asyncio.wait_for(
        asyncio.gather(
            c.post(URL + "rendezvous", data="{}", content_type="application/json"),
            c.post(URL + "rendezvous", data="{}", content_type="application/json"),
        ),
        10,
    )
    assert r1.json()["data"] is True and r2.json()["data"] is True


def test_context_endpoint(client: Client, users: dict[str, User]) -> None:
    assert client.get("/api/mizan/ctx/rooms").json() == {"data": {"room_list": ["lobby"]}}
    assert client.get("/api/mizan/ctx/global").json() == {"data": {"current_user": None}}
    r = client.get("/api/mizan/ctx/user")
    assert (r.status_code, error_of(r)) == (401, "unauthorized")
    r = client.get("/api/mizan/ctx/nothing")
    assert r.status_code == 404
    client.force_login(users["active"])
    assert client.get("/api/mizan/ctx/user").json() == {"data": {"profile": {"name": "ann"}}}


def test_http_mutation_returns_inv_keys(client: Client, users: dict[str, User]) -> None:
    client.force_login(users["active"])
    r = post(client, "add_room", {"name": "x"})
    assert r.json() == {"data": "x", "inv": [{"ctx": "rooms"}, {"ctx": "user"}]}


def test_failed_mutation_returns_error_and_no_inv(client: Client) -> None:
    r = post(client, "failing_mutation")
    assert r.status_code == 500 and "inv" not in r.json()
