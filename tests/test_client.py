"""@client declarations: every flag accepted, every mistake refused with a fix-it message."""

from __future__ import annotations

from typing import Literal

import pytest
from django.http import HttpResponse
from pydantic import BaseModel

from mizan_channels import client, register
from mizan_channels.exceptions import ConfigurationError
from mizan_channels.registry import Registry, registry


class Out(BaseModel):
    value: int


class NotAModel:
    pass


def test_bare_decorator_builds_input_model_from_signature() -> None:
    @client
    def add(request, a: int, b: int = 2) -> Out:
        return Out(value=a + b)

    spec = add.__mizan__
    assert spec.params == ("a", "b")
    assert spec.input_model.model_validate({"a": 1}).b == 2
    assert spec.is_async is False
    assert add(None, 1) == Out(value=3)  # still a plain function


def test_every_flag_is_recorded() -> None:
    @client
    def target(request) -> int:
        return 1

    @client(
        context=None,
        affects=["user", target],
        websocket=True,
        auth="staff",
        rev=3,
        shared=False,
    )
    async def mutate(request, x: int) -> None:
        return None

    spec = mutate.__mizan__
    assert spec.affects == ("user", target)
    assert spec.websocket and spec.auth == "staff" and spec.rev == 3 and spec.is_async
    assert spec.auth_kind == "staff"


@pytest.mark.parametrize(
    ("rule", "kind"),
    [(True, "user"), ("staff", "staff"), ("superuser", "superuser"), (lambda r: True, "custom")],
)
def test_auth_rules(rule: object, kind: str) -> None:
    @client(auth=rule)
    def f(request) -> int:
        return 1

    assert f.__mizan__.auth_kind == kind


def test_context_and_route_flags() -> None:
    @client(context="global")
    def me(request) -> str | None:
        return None

    assert me.__mizan__.context == "global"

    @client(route="/p/<int:pk>/")
    def page(request, pk: int) -> HttpResponse:
        return HttpResponse(str(pk))

    assert page.__mizan__.route == "/p/<int:pk>/"


def test_typo_flag_names_the_fix() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown flag 'webscoket'.*'websocket'"):

        @client(webscoket=True)
        def f(request) -> int:
            return 1


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"auth": "admin"}, "auth='admin' is not a rule"),
        ({"rev": 0}, "rev= takes a positive integer"),
        ({"rev": "2"}, "rev= takes a positive integer"),
        ({"websocket": "yes"}, "websocket= takes True or False"),
        ({"context": "has space"}, "context='has space' must be a name"),
        ({"route": "no-slash"}, "must be a URL path starting with '/'"),
        ({"affects": 3}, "must be a context name, an @client function"),
        ({"affects": print}, "is not an @client function"),
    ],
)
def test_bad_flag_values(flags: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):

        @client(**flags)
        def f(request) -> int:
            return 1


def test_missing_parameter_annotation_names_parameter() -> None:
    with pytest.raises(
        ConfigurationError, match=r"parameter 'text' has no type annotation.*text: str"
    ):

        @client
        def f(request, text) -> int:  # type: ignore[no-untyped-def]
            return 1


def test_missing_return_annotation() -> None:
    with pytest.raises(ConfigurationError, match="return type is missing"):

        @client
        def f(request, a: int):  # type: ignore[no-untyped-def]
            return 1


def test_missing_return_annotation_of_a_route_suggests_a_response() -> None:
    with pytest.raises(ConfigurationError, match="return type is missing") as raised:

        @client(route="/profile/<int:id>/")
        def profile(request, id: int):  # type: ignore[no-untyped-def]
            return HttpResponse(str(id))

    assert "-> HttpResponse" in str(raised.value) and "MyOutput" not in str(raised.value)


def test_missing_request_parameter() -> None:
    with pytest.raises(ConfigurationError, match="first parameter must be the request"):

        @client
        def f() -> int:
            return 1


def test_varargs_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"\*args/\*\*kwargs"):

        @client
        def f(request, **kw: int) -> int:
            return 1


def test_context_functions_take_no_arguments() -> None:
    with pytest.raises(ConfigurationError, match="context functions take only the request"):

        @client(context="user")
        def f(request, a: int) -> int:
            return a


def test_returning_http_response_needs_route() -> None:
    with pytest.raises(ConfigurationError, match="that's a view"):

        @client
        def f(request) -> HttpResponse:
            return HttpResponse()


def test_unserializable_argument_type_is_reported() -> None:
    with pytest.raises(ConfigurationError, match="argument type can't be validated"):

        @client
        def f(request, x: NotAModel) -> int:
            return 1


def test_register_refuses_undecorated_and_duplicates() -> None:
    def plain(request) -> int:
        return 1

    with pytest.raises(ConfigurationError, match="decorate the function with @client"):
        register(plain, "plain")

    reg = Registry()

    @client
    def one(request) -> int:
        return 1

    @client
    def two(request) -> int:
        return 2

    reg.add_function(one.__mizan__, "same")
    reg.add_function(one.__mizan__, "same")  # re-import: fine
    with pytest.raises(
        ConfigurationError,
        match=r"registered twice: by .*one \(.*test_client.py:\d+\) and by .*two",
    ):
        reg.add_function(two.__mizan__, "same")


def test_register_names_and_lists() -> None:
    assert registry.function("echo") is not None
    names = [s.name for s in registry.iter_functions()]
    assert names == sorted(names)
    assert "aecho" in names  # registered by mizan_clients() under its Python name
    assert "rooms" in registry.contexts()


def test_literal_and_union_types_validate() -> None:
    @client
    def pick(request, color: Literal["red", "green"], n: int | bool) -> str:
        return color

    model = pick.__mizan__.input_model
    assert model.model_validate({"color": "red", "n": True}).n is True
    with pytest.raises(Exception, match="red"):
        model.model_validate({"color": "blue", "n": 1})
