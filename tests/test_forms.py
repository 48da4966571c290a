"""Django forms as server functions: declaration, description, and schema/validate/submit over
HTTP and the socket, with auth, invalidation, non-field errors and a ModelForm."""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django import forms
from django.contrib.auth.models import User
from django.test import AsyncClient, Client

from mizan_channels import protocol
from mizan_channels.exceptions import ConfigurationError, MizanError
from mizan_channels.forms import (
    FormSchema,
    MizanFormMeta,
    MizanFormMixin,
    describe_form,
    mizanFormMeta,
    mizanFormMixin,
)
from mizan_channels.registry import registry
from tests.conftest import TIMEOUT
from tests.sockets import sock
from tests.testapp import forms as app_forms
from tests.testapp.models import Tag, Ticket

URL = "/api/mizan/call/"


def post(client: Client, fn: str, body: Any = None) -> Any:
    return client.post(URL + fn, data=json.dumps(body or {}), content_type="application/json")


def fields_of(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in schema["fields"]}


@pytest.fixture
def scratch_registry() -> Iterator[None]:
    """Forms declared inside a test leave the global registry as they found it."""
    functions, forms_ = dict(registry.functions), dict(registry.forms)
    yield
    registry.functions.clear()
    registry.functions.update(functions)
    registry.forms.clear()
    registry.forms.update(forms_)


# Declaration ------------------------------------------------------------------------------


def test_declaring_registers_three_functions() -> None:
    assert registry.forms["contact"] is app_forms.ContactForm
    for action in ("schema", "validate", "submit"):
        spec = registry.functions[f"contact.{action}"]
        assert (spec.name, spec.form, spec.websocket, spec.affects) == (
            f"contact.{action}",
            "contact",
            True,
            (),
        )
    assert app_forms.ContactForm.mizan.functions["submit"] == "contact.submit"
    assert registry.functions["ticket.submit"].affects == ("tickets",)
    assert registry.functions["ticket.validate"].affects == ()
    assert {registry.functions[f"ticket.{a}"].auth for a in ("schema", "validate")} == {"user"}
    assert MizanFormMixin is mizanFormMixin and MizanFormMeta is mizanFormMeta


def test_input_model_uses_wire_names_and_refuses_unknown_fields() -> None:
    model = registry.functions["every_field.submit"].input_model
    assert model.__name__ == "EveryFieldFields"
    assert list(model.model_json_schema()["properties"])[:3] == ["char", "email", "url"]
    ok = model.model_validate({"json": {"a": 1}, "float": 1})
    assert ok.model_dump(by_alias=True, exclude_none=True) == {"json": {"a": 1}, "float": 1.0}
    with pytest.raises(Exception, match="bogus"):
        model.model_validate({"bogus": 1})
    assert registry.functions["every_field.submit"].output == dict[str, Any]
    assert registry.functions["ticket.submit"].output is app_forms.TicketOut


def test_file_fields_are_refused_with_a_fix(scratch_registry: None) -> None:
    with pytest.raises(ConfigurationError, match=r"Upload\.doc is a FileField.*regular Django"):

        class Upload(mizanFormMixin, forms.Form):
            mizan = mizanFormMeta(name="upload_t")
            doc = forms.FileField()

            def on_submit_success(self, request):
                return {}


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"titel": "x"}, "unknown option 'titel'. Did you mean 'title'"),
        ({"auth": "boss"}, "auth='boss' is not a rule"),
        ({"affects": 3}, "affects=3 must be a context name"),
        ({"websocket": "yes"}, "websocket= takes True or False"),
    ],
)
def test_bad_options_are_refused(
    scratch_registry: None, meta: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):

        class Bad(mizanFormMixin, forms.Form):
            mizan = mizanFormMeta(name="bad_t", **meta)
            x = forms.CharField()

            def on_submit_success(self, request):
                return {}


def test_missing_handler_and_missing_form_base_are_refused(scratch_registry: None) -> None:
    with pytest.raises(ConfigurationError, match="has no on_submit_success"):

        class NoHandler(mizanFormMixin, forms.Form):
            mizan = mizanFormMeta(name="nohandler_t")

    with pytest.raises(ConfigurationError, match="Put it first"):

        class MixinLast(forms.Form, mizanFormMixin):
            mizan = mizanFormMeta(name="mixinlast_t")

            def on_submit_success(self, request):
                return {}

    with pytest.raises(ConfigurationError, match=r"not a Django form.*forms\.Form"):

        class NotAForm(mizanFormMixin):
            mizan = mizanFormMeta(name="notaform_t")


def test_name_defaults_and_clashes(scratch_registry: None) -> None:
    class SignUpAgainForm(mizanFormMixin, forms.Form):
        mizan = mizanFormMeta()
        x = forms.CharField()

        def on_submit_success(self, request):
            return {}

    class Child(SignUpAgainForm):  # inherits `mizan`: not declared a second time
        y = forms.CharField()

    assert registry.forms["sign_up_again"] is SignUpAgainForm
    assert "sign_up_again.submit" in registry.functions
    assert Child not in registry.forms.values()
    with pytest.raises(ConfigurationError, match="'contact' is declared twice"):

        class Other(mizanFormMixin, forms.Form):
            mizan = mizanFormMeta(name="contact")

            def on_submit_success(self, request):
                return {}


# Description ------------------------------------------------------------------------------


def test_describe_the_seed_contact_form() -> None:
    schema = describe_form(app_forms.ContactForm)
    assert (schema["name"], schema["title"], schema["submit_label"]) == (
        "contact",
        "Contact Us",
        "Send",
    )
    name, email, message = schema["fields"]
    assert (name["name"], name["kind"], name["label"], name["required"]) == (
        "name",
        "char",
        "Name",
        True,
    )
    assert (name["help"], name["max_length"], name["widget"]) == ("Your full name.", 50, "text")
    assert (email["kind"], email["widget"]) == ("email", "email")
    assert (message["widget"], message["min_length"]) == ("textarea", 5)
    FormSchema.model_validate(schema)


EXPECTED: dict[str, dict[str, Any]] = {
    "char": {"kind": "char", "min_length": 2, "max_length": 10, "initial": "hi"},
    "email": {"kind": "email", "widget": "email"},
    "url": {"kind": "url", "widget": "url", "pattern": None},
    "slug": {"kind": "slug", "pattern": "^[-a-zA-Z0-9_]+$"},
    "regex": {"kind": "regex", "pattern": r"^[a-z]+\d$"},
    "ip": {"kind": "ip"},
    "uuid": {"kind": "uuid"},
    "integer": {"kind": "integer", "widget": "number", "min_value": 1, "max_value": 10, "step": 1},
    "float": {"kind": "float", "min_value": 0.5},
    "decimal": {"kind": "decimal", "max_digits": 5, "decimal_places": 2},
    "boolean": {"kind": "boolean", "widget": "checkbox", "required": False},
    "null_boolean": {"kind": "null_boolean", "widget": "select"},
    "choice": {
        "kind": "choice",
        "widget": "select",
        "choices": [["", "---"], ["a", "Apple"], ["o", "Orange"], ["l", "Lemon"]],
    },
    "radio": {"kind": "choice", "widget": "radio", "choices": [[1, "One"], [2, "Two"]]},
    "typed_choice": {"kind": "typed_choice", "choices": [[1, "One"], [2, "Two"]]},
    "multiple_choice": {"kind": "multiple_choice", "widget": "checkbox_multiple"},
    "typed_multiple_choice": {"kind": "typed_multiple_choice", "widget": "select_multiple"},
    "sized": {"kind": "choice", "dynamic": True, "choices": None},
    "date": {"kind": "date", "widget": "date", "initial": "2024-01-31"},
    "datetime": {"kind": "datetime", "widget": "datetime"},
    "time": {"kind": "time", "widget": "time"},
    "duration": {"kind": "duration"},
    "split_datetime": {"kind": "split_datetime", "widget": "split_datetime"},
    "json": {"kind": "json", "widget": "textarea"},
    "combo": {"kind": "combo"},
    "today": {"initial": None, "initial_dynamic": True},
    "secret": {"widget": "password", "max_length": 8},
    "tag": {"kind": "model_choice", "dynamic": True, "choices": None, "model": "testapp.Tag"},
    "tags": {"kind": "model_multiple_choice", "dynamic": True, "widget": "select_multiple"},
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_describe_each_standard_field(name: str) -> None:
    field = fields_of(describe_form(app_forms.EveryFieldForm))[name]
    assert {k: field[k] for k in EXPECTED[name]} == EXPECTED[name]


def test_description_is_deterministic_and_in_declared_order() -> None:
    first = describe_form(app_forms.EveryFieldForm)
    assert first == describe_form(app_forms.EveryFieldForm)
    assert [f["name"] for f in first["fields"]] == list(app_forms.EveryFieldForm.base_fields)
    parts = fields_of(first)["split_datetime"]["parts"]
    assert [p["kind"] for p in parts] == ["date", "time"]
    assert [p["kind"] for p in fields_of(first)["combo"]["parts"]] == ["char", "email"]


def test_model_form_description() -> None:
    fields = fields_of(describe_form(app_forms.TicketForm))
    assert list(fields) == ["title", "email", "priority", "due", "tags"]
    assert (fields["title"]["max_length"], fields["title"]["help"]) == (100, "A short summary.")
    assert fields["priority"]["kind"] == "typed_choice"
    assert fields["priority"]["choices"] == [[1, "Low"], [2, "High"]]
    assert fields["priority"]["initial"] == 1
    assert (fields["due"]["kind"], fields["due"]["required"]) == ("date", False)
    assert fields["tags"]["kind"] == "model_multiple_choice" and fields["tags"]["dynamic"]


# Calls over HTTP --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_schema_call_evaluates_dynamic_parts(client: Client) -> None:
    Tag.objects.create(name="red")
    Tag.objects.create(name="blue")
    r = post(client, "every_field.schema")
    assert r.status_code == 200, r.content
    fields = fields_of(r.json()["data"])
    blue, red = Tag.objects.get(name="blue"), Tag.objects.get(name="red")
    empty = str(forms.ModelChoiceField(Tag.objects.all()).empty_label)  # Django 6 changed it
    assert fields["tag"]["choices"] == [["", empty], [blue.pk, "blue"], [red.pk, "red"]]
    assert fields["tags"]["choices"] == [[blue.pk, "blue"], [red.pk, "red"]]
    assert fields["sized"]["choices"] == [["s", "Small"], ["l", "Large"]]
    assert fields["today"]["initial"] == datetime.date.today().isoformat()


def test_validate_reports_errors_without_side_effects(client: Client) -> None:
    before = len(app_forms.SENT)
    r = post(client, "contact.validate", {"email": "nope", "message": "hi"})
    assert r.status_code == 200
    assert r.json() == {
        "data": {
            "valid": False,
            "errors": [
                {"loc": ["name"], "msg": "This field is required.", "type": "required"},
                {"loc": ["email"], "msg": "Enter a valid email address.", "type": "invalid"},
                {
                    "loc": ["message"],
                    "msg": "Ensure this value has at least 5 characters (it has 2).",
                    "type": "min_length",
                },
            ],
        },
        "inv": [],
    }
    good = {"name": "Ann", "email": "ann@example.com", "message": "hello"}
    assert post(client, "contact.validate", good).json()["data"] == {"valid": True, "errors": []}
    assert len(app_forms.SENT) == before


def test_submit_runs_the_handler_or_answers_invalid_params(client: Client) -> None:
    good = {"name": "Ann", "email": "ann@example.com", "message": "hello"}
    r = post(client, "contact.submit", good)
    assert r.json() == {"data": {"sent": True}, "inv": []}
    assert app_forms.SENT[-1] == good
    r = post(client, "contact.submit", {**good, "email": "x"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "invalid_params"
    assert error["details"] == [
        {"loc": ["email"], "msg": "Enter a valid email address.", "type": "invalid"}
    ]


def test_non_field_errors_use_loc_all(client: Client) -> None:
    r = post(client, "signup.submit", {"username": "a", "password": "x", "confirm": "y"})
    assert r.json()["error"]["details"] == [
        {"loc": ["__all__"], "msg": "Passwords don't match.", "type": "mismatch"}
    ]


@pytest.mark.parametrize(
    ("body", "loc"),
    [({"name": 5}, ["name"]), ({"bogus": "x"}, ["bogus"]), ({"multiple_choice": "x"}, None)],
)
def test_wrong_json_shapes_are_invalid_params(
    client: Client, body: dict[str, Any], loc: list[str] | None
) -> None:
    fn = "every_field.validate" if "multiple_choice" in body else "contact.validate"
    r = post(client, fn, body)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_params")
    assert r.json()["error"]["details"][0]["loc"][0] == (loc or ["multiple_choice"])[0]


ROUND_TRIPS: list[tuple[str, Any, str, Any]] = [
    ("char", "hey", "str", "hey"),
    ("email", "a@b.co", "str", "a@b.co"),
    ("url", "https://example.com/x", "str", "https://example.com/x"),
    ("slug", "a-b_c", "str", "a-b_c"),
    ("regex", "abc1", "str", "abc1"),
    ("ip", "10.0.0.1", "str", "10.0.0.1"),
    (
        "uuid",
        "12345678-1234-5678-1234-567812345678",
        "UUID",
        "12345678-1234-5678-1234-567812345678",
    ),
    ("integer", 7, "int", 7),
    ("integer", "7", "int", 7),
    ("float", 1.5, "float", 1.5),
    ("decimal", 12.34, "Decimal", "12.34"),
    ("decimal", "0.5", "Decimal", "0.5"),
    ("boolean", True, "bool", True),
    ("boolean", False, "bool", False),
    ("null_boolean", False, "bool", False),
    ("null_boolean", None, "NoneType", None),
    ("choice", "o", "str", "o"),
    ("radio", 2, "str", "2"),
    ("typed_choice", 2, "int", 2),
    ("multiple_choice", ["x", "y"], "list", ["x", "y"]),
    ("typed_multiple_choice", [2, "1"], "list", [2, 1]),
    ("date", "2024-02-29", "date", "2024-02-29"),
    ("datetime", "2024-02-29T10:00:00+00:00", "datetime", "2024-02-29T10:00:00+00:00"),
    ("time", "13:45", "time", "13:45:00"),
    ("duration", "P1DT2H", "timedelta", "P1DT02H00M00S"),
    ("json", {"a": [1, None]}, "dict", {"a": [1, None]}),
    ("json", "plain", "JSONString", "plain"),
    ("combo", "a@b.co", "str", "a@b.co"),
]


@pytest.mark.parametrize(("field", "sent", "type_", "value"), ROUND_TRIPS)
def test_json_values_reach_django_as_it_expects(
    client: Client, field: str, sent: Any, type_: str, value: Any
) -> None:
    r = post(client, "every_field.submit", {field: sent})
    assert r.status_code == 200, r.content
    assert r.json()["data"][field] == {"type": type_, "value": value}


def test_split_datetime_takes_a_pair(client: Client) -> None:
    r = post(client, "every_field.submit", {"split_datetime": ["2024-02-29", "10:30"]})
    got = r.json()["data"]["split_datetime"]
    assert got["type"] == "datetime" and got["value"].startswith("2024-02-29T10:30:00")


@pytest.mark.parametrize(
    ("field", "sent", "type_"),
    [
        ("char", "x", "min_length"),
        ("char", "x" * 11, "max_length"),
        ("email", "nope", "invalid"),
        ("url", "nope", "invalid"),
        ("slug", "a b", "invalid"),
        ("regex", "ABC", "invalid"),
        ("ip", "999.1.1.1", "invalid"),
        ("uuid", "nope", "invalid"),
        ("integer", 11, "max_value"),
        ("integer", 0, "min_value"),
        ("float", 0.1, "min_value"),
        ("decimal", 1234.5, "max_whole_digits"),
        ("decimal", 1.234, "max_decimal_places"),
        ("choice", "z", "invalid_choice"),
        ("typed_choice", 3, "invalid_choice"),
        ("multiple_choice", ["z"], "invalid_choice"),
        ("date", "2024-02-30", "invalid"),
        ("datetime", "yesterday", "invalid"),
        ("time", "25:00", "invalid"),
        ("duration", "forever", "invalid"),
        ("split_datetime", ["2024-02-29", "nope"], "invalid"),
        ("combo", "not-an-email", "invalid"),
        ("secret", "123456789", "max_length"),
    ],
)
def test_each_field_reports_its_error(client: Client, field: str, sent: Any, type_: str) -> None:
    data = post(client, "every_field.validate", {field: sent}).json()["data"]
    assert data["valid"] is False
    assert [(e["loc"], e["type"]) for e in data["errors"]] == [([field], type_)]


@pytest.mark.django_db(transaction=True)
def test_model_choices_take_primary_keys(client: Client) -> None:
    red, blue = Tag.objects.create(name="red"), Tag.objects.create(name="blue")
    r = post(client, "every_field.submit", {"tag": red.pk, "tags": [blue.pk, str(red.pk)]})
    data = r.json()["data"]
    assert (data["tag"]["value"], sorted(data["tags"]["value"])) == ("red", ["blue", "red"])
    errors = post(client, "every_field.validate", {"tag": 999}).json()["data"]["errors"]
    assert [(e["loc"], e["type"]) for e in errors] == [(["tag"], "invalid_choice")]


# Auth and the ModelForm -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_model_form_needs_a_user_and_saves(client: Client) -> None:
    ticket = {"title": "Broken", "email": "a@b.co", "priority": 2}
    for action in ("schema", "validate", "submit"):
        r = post(client, f"ticket.{action}", ticket if action != "schema" else {})
        assert (r.status_code, r.json()["error"]["code"]) == (401, "unauthorized")
    assert Ticket.objects.count() == 0

    ann = User.objects.create_user("ann", password="pw")
    tag = Tag.objects.create(name="bug")
    client.force_login(ann)
    r = post(client, "ticket.submit", {**ticket, "tags": [tag.pk], "due": "2030-01-01"})
    assert r.status_code == 200, r.content
    saved = Ticket.objects.get()
    assert r.json() == {
        "data": {"id": saved.pk, "title": "Broken", "owner": "ann", "tags": ["bug"]},
        "inv": [{"ctx": "tickets"}],
    }
    assert (saved.priority, saved.owner, saved.due) == (2, ann, datetime.date(2030, 1, 1))

    r = post(client, "ticket.submit", {**ticket, "title": "ann", "priority": 9})
    assert sorted((e["loc"][0], e["type"]) for e in r.json()["error"]["details"]) == [
        ("priority", "invalid_choice"),
        ("title", "self_named"),
    ]
    assert Ticket.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_staff_rule_and_async_handler(client: Client) -> None:
    client.force_login(User.objects.create_user("bob", password="pw"))
    r = post(client, "note.submit", {"text": "hi"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden")
    client.force_login(User.objects.create_user("sam", password="pw", is_staff=True))
    r = post(client, "note.submit", {"text": "hi"})
    assert r.json()["data"] == {"text": "hi", "by": "sam"}
    assert post(client, "note.submit", {}).json()["error"]["details"][0]["loc"] == ["text"]


# Calls over the socket --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_form_calls_over_the_socket() -> None:
    async with sock() as c:
        schema = await c.call("contact.schema")
        assert schema["title"] == "Contact Us" and len(schema["fields"]) == 3
        result = await c.call("contact.validate", name="Ann")
        assert [e["loc"] for e in result["errors"]] == [["email"], ["message"]]
        good = {"name": "Ann", "email": "ann@example.com", "message": "hello"}
        assert await c.call("contact.submit", **good) == {"sent": True}
        with pytest.raises(MizanError) as info:
            await c.call("signup.submit", username="a", password="x", confirm="y")
        assert info.value.code == "invalid_params"
        assert info.value.details == [
            {"loc": ["__all__"], "msg": "Passwords don't match.", "type": "mismatch"}
        ]
        for fn, code in (("note.submit", "not_exposed"), ("ticket.submit", "unauthorized")):
            with pytest.raises(MizanError) as info:
                await c.call(fn, text="x")
            assert info.value.code == code


@pytest.mark.django_db(transaction=True)
async def test_socket_submit_invalidates_before_its_reply_and_reaches_other_tabs() -> None:
    ann = await User.objects.acreate(username="ann")
    async with sock(user=ann) as caller, sock(user=ann) as other_tab:
        await caller.send_to(
            text_data=protocol.dumps(
                {
                    "t": "call",
                    "id": 1,
                    "fn": "ticket.submit",
                    "args": {"title": "Socket", "email": "a@b.co", "priority": 1},
                }
            ).decode()
        )
        frames = [await caller.next_frame(lambda f: f["t"] in ("inv", "ok", "err"))]
        if frames[0]["t"] == "inv":
            frames.append(await caller.next_frame(lambda f: f["t"] in ("ok", "err")))
        assert [f["t"] for f in frames] == ["inv", "ok"], frames
        assert frames[0]["keys"] == [{"ctx": "tickets"}]
        assert frames[1]["data"]["owner"] == "ann"
        assert await other_tab.assert_invalidated({"ctx": "tickets"})
    assert await Ticket.objects.filter(title="Socket").acount() == 1


@pytest.mark.django_db(transaction=True)
async def test_http_submit_invalidates_the_users_socket() -> None:
    ann = await User.objects.acreate(username="ann")
    http = AsyncClient()
    await http.aforce_login(ann)
    async with sock(user=ann) as tab:
        r = await asyncio.wait_for(
            http.post(
                URL + "ticket.submit",
                data=json.dumps({"title": "Over HTTP", "email": "a@b.co", "priority": 2}),
                content_type="application/json",
            ),
            TIMEOUT,
        )
        assert r.status_code == 200, r.content
        assert await tab.assert_invalidated({"ctx": "tickets"})


def test_field_order_is_honoured_without_instantiating(scratch_registry: None) -> None:
    class Ordered(mizanFormMixin, forms.Form):
        mizan = mizanFormMeta(name="ordered_t")
        field_order = ["b", "missing", "a"]
        a = forms.CharField()
        b = forms.CharField()
        c = forms.CharField()

        def on_submit_success(self, request):
            return {}

    described = [f["name"] for f in describe_form(Ordered)["fields"]]
    assert described == [f["name"] for f in describe_form(Ordered(request=None))["fields"]]
    assert described == ["b", "a", "c"]
