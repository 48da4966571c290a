"""Dependencies with known advisories are excluded by our floors (and the installed ones meet
them), every cookie-authenticated HTTP mutation needs Django's CSRF token (the call view
runs the middleware's check itself, to answer in JSON), and call arguments are logged only
with secrets redacted.
"""

from __future__ import annotations

import ast
import os
import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.middleware.csrf import CsrfViewMiddleware
from django.test import Client
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from mizan_channels.invoke import redact
from mizan_channels.registry import registry
from tests.security.support import LogTrap
from tests.servers import ROOT
from tests.sockets import sock

CI = os.environ.get("CI", "").lower() == "true"

#: package -> the lowest version without a known advisory, and why.
ADVISORY_FLOORS = {
    # 4.2.2 caps WebSocket message and frame size (unauthenticated memory exhaustion) and
    # fixes the header-injection advisory.
    "daphne": (4, 2, 2),
    # 24.7.0 fixes HTTP/1.1 pipelining request reordering (CVE-2024-41671) and the
    # redirectTo XSS (CVE-2024-41810).
    "twisted": (24, 7, 0),
}


def as_tuple(text: str) -> tuple[int, ...]:
    parts = [int(p) for p in re.findall(r"\d+", text)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def declared_floors() -> dict[str, tuple[int, ...]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = list(data["project"]["dependencies"])
    for extra in data["project"]["optional-dependencies"].values():
        reqs.extend(extra)
    out: dict[str, tuple[int, ...]] = {}
    for req in reqs:
        m = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*>=\s*([0-9.]+)", req)
        if m:
            out[m.group(1).lower()] = as_tuple(m.group(2))
    return out


@pytest.mark.parametrize("package", sorted(ADVISORY_FLOORS))
def test_declared_floor_excludes_known_advisories(package: str) -> None:
    declared = declared_floors()
    assert package in declared, f"pyproject.toml declares no floor for {package}"
    assert declared[package] >= ADVISORY_FLOORS[package], (package, declared[package])


def test_installed_versions_meet_every_declared_floor() -> None:
    checked = []
    for package, floor in declared_floors().items():
        if package == "mizan-channels":
            continue
        try:
            installed = version(package)
        except PackageNotFoundError:
            continue  # an extra this environment doesn't install
        assert as_tuple(installed) >= floor, (package, installed, floor)
        checked.append(package)
    assert "django" in checked and "channels" in checked, checked


# CSRF --------------------------------------------------------------------------------------


def test_the_only_csrf_exemption_is_the_call_view_which_checks_itself() -> None:
    """The middleware skips exactly one view, `call_view`, which runs the middleware's own
    rules inside it (to answer with a protocol error): the behaviour is tested below."""
    places = []
    for path in (ROOT / "mizan_channels").rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name)]
        names += [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)]
        places += [path.name] * names.count("csrf_exempt")
    assert places == ["views.py"]
    from mizan_channels import views

    assert getattr(views.call_view, "csrf_exempt", False)
    for view in (views.context_view, views.mwt_view):
        assert not getattr(view, "csrf_exempt", False)


@pytest.mark.django_db
def test_every_function_refuses_a_cookie_post_without_the_token() -> None:
    """A session-authenticated POST without the CSRF token is refused before any function
    runs, for every registered function (mutations first of all), with the protocol's
    `forbidden` and a JSON body naming the reason."""
    ann = User.objects.create_user("ann", password="pw", is_staff=True, is_superuser=True)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(ann)
    names = sorted(registry.functions)
    assert any(registry.functions[n].affects for n in names)
    for name in names:
        r = strict.post(f"/api/mizan/call/{name}", data="{}", content_type="application/json")
        assert r.status_code == 403, name
        error = r.json()["error"]
        assert error["code"] == "forbidden" and error["message"].startswith("CSRF"), name


@pytest.mark.django_db
def test_a_post_with_the_token_passes_and_a_wrong_token_does_not() -> None:
    ann = User.objects.create_user("ann", password="pw")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(ann)
    strict.get("/api/mizan/ctx/global")  # sets the csrftoken cookie, as a page's first fetch
    token = strict.cookies["csrftoken"].value
    url = "/api/mizan/call/echo"
    ok = strict.post(
        url, data='{"text": "t"}', content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert ok.status_code == 200 and ok.json()["data"] == {"message": "t"}
    bad = strict.post(
        url,
        data='{"text": "t"}',
        content_type="application/json",
        headers={"X-CSRFToken": "x" * 32},
    )
    assert bad.status_code == 403 and bad.json()["error"]["code"] == "forbidden"


FORM_BODIES = {
    "multipart": (
        "multipart/form-data; boundary=XX",
        b'--XX\r\nContent-Disposition: form-data; name="text"\r\n\r\nhi\r\n--XX--\r\n',
    ),
    "multipart without a boundary": ("multipart/form-data", b'{"text": "hi"}'),
    "urlencoded": ("application/x-www-form-urlencoded", b"text=hi"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("form", list(FORM_BODIES))
def test_a_form_body_is_bad_frame_not_a_crash(form: str, logs: LogTrap) -> None:
    """A call with a form's Content-Type, with the CSRF cookie and header a page has: the CSRF
    check must not parse the body as a form (a multipart parse consumes it, and reading it
    afterwards raised a 500 logged at ERROR; a broken one answered Django's HTML 400 page).
    Arguments are JSON, so a form body is `bad_frame`, before any function runs."""
    strict = Client(enforce_csrf_checks=True)
    strict.get("/api/mizan/ctx/global")
    token = strict.cookies["csrftoken"].value
    content_type, body = FORM_BODIES[form]
    r = strict.post(
        "/api/mizan/call/echo",
        data=body,
        content_type=content_type,
        headers={"X-CSRFToken": token},
    )
    assert (r.status_code, r.json()["error"]["code"]) == (400, "bad_frame")
    assert not logs.errors(), logs.text()


class StricterCsrf(CsrfViewMiddleware):
    """A project's own CSRF middleware, with a rule of its own."""

    def process_view(self, request: Any, callback: Any, args: Any, kwargs: Any) -> Any:
        if getattr(callback, "csrf_exempt", False):
            return None
        if request.headers.get("X-Blocked"):
            return self._reject(request, "blocked by the project's rule")
        return super().process_view(request, callback, args, kwargs)


@pytest.mark.django_db
def test_a_projects_own_csrf_middleware_is_the_one_that_judges_calls(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # The call view is skipped by the middleware: the check it runs itself must be the
    # project's, subclass included, or a subclass in MIDDLEWARE would leave calls unchecked.
    settings.MIDDLEWARE = [
        m.replace("django.middleware.csrf.CsrfViewMiddleware", f"{__name__}.StricterCsrf")
        for m in settings.MIDDLEWARE
    ]
    ann = User.objects.create_user("ann", password="pw")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(ann)
    url, body = "/api/mizan/call/echo", '{"text": "t"}'
    with caplog.at_level("WARNING", logger="django.security.csrf"):
        r = strict.post(url, data=body, content_type="application/json")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert any("Forbidden (CSRF" in m for m in caplog.messages)  # logged where Django logs it
    strict.get("/api/mizan/ctx/global")
    token = strict.cookies["csrftoken"].value
    headers = {"X-CSRFToken": token}
    r = strict.post(url, data=body, content_type="application/json", headers=headers)
    assert r.status_code == 200
    headers["X-Blocked"] = "1"
    r = strict.post(url, data=body, content_type="application/json", headers=headers)
    assert r.json()["error"]["message"].endswith("blocked by the project's rule")


# Redaction ---------------------------------------------------------------------------------

SECRET_WORDS = ["password", "token", "secret", "api_key", "Authorization", "session_id", "otp"]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", *SECRET_WORDS]), inner, max_size=3)
    ),
    max_leaves=12,
)
MARK = "hunter2-"


def plant(value: Any, n: list[int]) -> Any:
    """`value` with a unique marker under every secret-looking key."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in SECRET_WORDS:
                n[0] += 1
                out[k] = f"{MARK}{n[0]}"
            else:
                out[k] = plant(v, n)
        return out
    if isinstance(value, list):
        return [plant(v, n) for v in value]
    return value


@given(args=st.dictionaries(st.sampled_from(["x", "y", *SECRET_WORDS]), JSON, max_size=4))
@hsettings(max_examples=300, derandomize=CI)
def test_redact_hides_secret_keys_at_every_depth(args: dict[str, Any]) -> None:
    planted = plant(args, [0])
    assert MARK not in repr(redact(planted))


@pytest.mark.django_db(transaction=True)
async def test_logged_call_arguments_never_show_secrets(settings: Any, logs: LogTrap) -> None:
    settings.MIZAN_LOG_ARGS = True
    async with sock() as c:
        await c.call(
            "nested_secrets",
            creds={"username": "ann", "password": "hunter2-model"},
            items=[{"name": "x", "token": "hunter2-list"}],
        )
        await c.call("sign_in", username="ann", password="hunter2-arg")
    text = logs.text()
    assert "call nested_secrets" in text and "call sign_in" in text  # logging is on
    assert "hunter2" not in text, text


def test_the_suite_covers_every_threat_in_the_docs() -> None:
    """docs/security.md names a test for every threat; each one exists."""
    doc = (ROOT / "docs" / "security.md").read_text()
    named = set(re.findall(r"`(tests/security/[a-z_0-9]+\.py)::([a-z_0-9]+)`", doc))
    assert len(named) >= 20
    for module, test in named:
        source = (ROOT / module).read_text()
        assert f"def {test}(" in source, (module, test)
