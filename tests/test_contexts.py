"""Contexts: `GET ctx/{name}` through the cache, declaration rules, and SSR hydration with
`{% mizan_context %}` (XSS-safe, same values and cache as the endpoint)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.template import Context, Template, TemplateSyntaxError
from django.test import Client, RequestFactory

from mizan_channels import ConfigurationError, client
from mizan_channels.exceptions import UnknownFunction
from tests.test_cache import use_backend
from tests.testapp import clients

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["locmem", "redis"])
def backend(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    yield from use_backend(request, settings)


def count(key: str) -> int:
    return clients.computed.get(key, 0)


def ctx(c: Client, name: str) -> Any:
    return c.get(f"/api/mizan/ctx/{name}")


@pytest.fixture
def ann() -> User:
    return User.objects.create_user("ann", password="pw")


@pytest.fixture
def bob() -> User:
    return User.objects.create_user("bob", password="pw")


def logged_in(user: User) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_context_functions_take_only_the_request() -> None:
    with pytest.raises(ConfigurationError, match=r"context functions take only the request"):

        @client(context="global")
        def with_args(request: Any, page: int) -> int:
            return page


def test_endpoint_returns_every_function_of_the_context(backend: str, ann: User) -> None:
    data = ctx(logged_in(ann), "mine").json()["data"]
    assert set(data) == {"mine", "mine_too"}
    assert data["mine"]["who"] == data["mine_too"]["who"] == "u:ann"


def test_second_fetch_is_served_from_the_cache(backend: str, ann: User) -> None:
    c = logged_in(ann)
    before = count("mine:u:ann")
    first = ctx(c, "mine").json()
    assert ctx(c, "mine").json() == first
    assert count("mine:u:ann") == before + 1


def test_each_user_gets_their_own_values(backend: str, ann: User, bob: User) -> None:
    a, b = logged_in(ann), logged_in(bob)
    for _ in range(2):
        assert ctx(a, "mine").json()["data"]["mine"]["who"] == "u:ann"
        assert ctx(b, "mine").json()["data"]["mine"]["who"] == "u:bob"


def test_http_mutation_drops_only_the_callers_entries(backend: str, ann: User, bob: User) -> None:
    a, b = logged_in(ann), logged_in(bob)
    ctx(a, "mine"), ctx(b, "mine")
    ann_n, bob_n = count("mine:u:ann"), count("mine:u:bob")
    r = a.post("/api/mizan/call/touch_mine", b"{}", content_type="application/json")
    assert r.json() == {"data": True, "inv": [{"ctx": "mine"}]}
    assert ctx(a, "mine").json()["data"]["mine"]["n"] == ann_n + 1
    assert ctx(b, "mine").json()["data"]["mine"]["n"] == bob_n  # still cached


def test_shared_context_computed_once_for_everyone(backend: str, ann: User, bob: User) -> None:
    before = count("board")
    values = [ctx(c, "board").json() for c in (logged_in(ann), logged_in(bob), Client())]
    assert values[0] == values[1] == values[2]
    assert count("board") == before + 1
    logged_in(bob).post("/api/mizan/call/touch_board", b"{}", content_type="application/json")
    assert ctx(Client(), "board").json()["data"]["board"]["n"] == before + 2


def test_anonymous_cached_per_session_and_never_without_one(backend: str) -> None:
    nobody = Client()
    ctx(nobody, "mine"), ctx(nobody, "mine")
    assert count("mine:anon") >= 2
    visitor = Client()
    session = visitor.session
    session["seen"] = True
    session.save()
    first = ctx(visitor, "mine").json()
    assert first["data"]["mine"]["who"] == f"s:{session.session_key}"
    assert ctx(visitor, "mine").json() == first


def test_auth_is_checked_before_the_cache(backend: str, ann: User) -> None:
    assert ctx(logged_in(ann), "private").json() == {"data": {"private_ctx": "ann"}}
    r = ctx(Client(), "private")
    assert (r.status_code, r.json()["error"]["code"]) == (401, "unauthorized")


def test_raising_context_function_is_server_error(backend: str) -> None:
    r = ctx(Client(), "broken")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "server_error"
    assert "context body failed" not in r.content.decode()


def test_unknown_context_is_404() -> None:
    r = ctx(Client(), "nope")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "unknown_function")


# SSR hydration ----------------------------------------------------------------------------

SCRIPT = re.compile(
    r'<script id="mizan-ctx-([\w.-]+)" type="application/json">(.*?)</script>', re.S
)


def render(source: str, user: Any = None, with_request: bool = True) -> str:
    request = RequestFactory().get("/")
    request.user = user or AnonymousUser()
    context = {"request": request} if with_request else {}
    return Template("{% load mizan %}" + source).render(Context(context))


def parse(rendered: str) -> dict[str, Any]:
    import json

    # What the browser does: textContent of the element, then JSON.parse.
    return {name: json.loads(body) for name, body in SCRIPT.findall(rendered)}


def test_ssr_renders_what_the_endpoint_returns(backend: str, ann: User) -> None:
    rendered = render('{% mizan_context "mine" "board" %}', ann)
    data = parse(rendered)
    assert set(data) == {"mine", "board"}
    c = logged_in(ann)
    assert ctx(c, "mine").json()["data"] == data["mine"]  # same cache entry: same value
    assert ctx(c, "board").json()["data"] == data["board"]


def test_a_page_hydrated_by_the_tag_gets_the_csrf_cookie_its_calls_need(backend: str) -> None:
    # Such a page never fetches ctx/ (which sets the cookie), yet its mutations are POSTs.
    def page(request: Any) -> HttpResponse:
        request.user = AnonymousUser()
        body = Template('{% load mizan %}{% mizan_context "ssr" %}').render(
            Context({"request": request})
        )
        return HttpResponse(body)

    response = CsrfViewMiddleware(page)(RequestFactory().get("/"))
    assert response.cookies["csrftoken"].value


def test_ssr_is_xss_safe(backend: str) -> None:
    rendered = render('{% mizan_context "ssr" %}')
    assert rendered.count("<script") == 1 and rendered.count("</script>") == 1
    (body,) = [b for _, b in SCRIPT.findall(rendered)]
    assert not set(body) & set("<>&"), body  # json_script's escapes: nothing for HTML to see
    assert parse(rendered)["ssr"] == {
        "ssr_payload": {
            "html": "</script><script>alert(1)</script><!--",
            "amp": "a & b < c > d",
        }
    }


def test_ssr_skips_contexts_the_visitor_may_not_read(backend: str, ann: User) -> None:
    assert render('{% mizan_context "private" %}') == ""
    assert parse(render('{% mizan_context "private" %}', ann)) == {
        "private": {"private_ctx": "ann"}
    }


def test_ssr_of_an_unknown_context_raises() -> None:
    with pytest.raises(UnknownFunction, match="nope"):
        render('{% mizan_context "nope" %}')


def test_ssr_needs_the_request_in_the_template_context() -> None:
    with pytest.raises(TemplateSyntaxError, match=r"context_processors\.request"):
        render('{% mizan_context "mine" %}', with_request=False)


def test_ssr_needs_a_name() -> None:
    with pytest.raises(TemplateSyntaxError, match="at least one context name"):
        render("{% mizan_context %}")


async def test_ssr_on_the_event_loop_thread_explains_the_fix() -> None:
    with pytest.raises(RuntimeError, match="TemplateResponse"):
        render('{% mizan_context "board" %}')
