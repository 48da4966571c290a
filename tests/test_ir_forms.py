"""Forms in the IR: a `<Name>Fields` struct with types and limits, and a `form` node with
what a renderer needs. Uses the test app's forms in a fresh registry."""

from __future__ import annotations

from typing import Any

from mizan_channels.ir.model import (
    Choice,
    Constraints,
    DefaultJson,
    DefaultUnknown,
    DefaultValue,
    EnumOf,
    Field,
    FormField,
    ListOf,
    OptionalOf,
    Primitive,
    Ref,
    Struct,
)
from mizan_channels.registry import Registry
from mizan_channels.registry import registry as global_registry
from tests.ir_helpers import ir, named


def with_forms(*names: str) -> Registry:
    reg = Registry()
    for name in names:
        reg.add_form(name, global_registry.forms[name])
        for fn_name, spec in global_registry.functions.items():
            if spec.form == name:
                reg.add_function(spec, fn_name)
    return reg


def fields(doc: Any, name: str) -> dict[str, Field]:
    t = named(doc, name)
    assert isinstance(t, Struct)
    return {f.name: f for f in t.fields}


def test_a_form_becomes_a_fields_struct_and_a_form_node() -> None:
    doc = ir(with_forms("contact"))
    (form,) = doc.forms
    assert (form.name, form.title, form.submit_label, form.fields_type) == (
        "contact",
        "Contact Us",
        "Send",
        "ContactFields",
    )
    assert form.output == Primitive("any")  # on_submit_success has no return annotation
    f = fields(doc, "ContactFields")
    assert list(f) == ["name", "email", "message"]
    assert f["name"] == Field("name", Primitive("str", Constraints(max_length=50)))
    assert f["email"].shape == Primitive("str", Constraints(max_length=320, format="email"))
    assert f["message"].shape == Primitive("str", Constraints(min_length=5))
    ui = {x.name: x for x in form.fields}
    assert ui["name"] == FormField("name", "Name", "Your full name.", "text")
    assert ui["message"].widget == "textarea"


def test_form_functions_share_one_input_named_after_the_form() -> None:
    doc = ir(with_forms("contact"))
    by = {f.name: f for f in doc.functions}
    assert set(by) == {"contact.schema", "contact.validate", "contact.submit"}
    assert by["contact.validate"].input == by["contact.submit"].input == "ContactInput"
    assert all(f.form == "contact" for f in doc.functions)


def test_optional_fields_choices_initials_and_limits() -> None:
    doc = ir(with_forms("every_field"))
    f = fields(doc, "EveryFieldFields")
    assert f["char"].default == DefaultValue(None)
    assert f["char"].shape == OptionalOf(Primitive("str", Constraints(min_length=2, max_length=10)))
    assert f["integer"].shape == OptionalOf(
        Primitive("int", Constraints(ge=1, le=10, multiple_of=1))
    )
    assert f["regex"].shape == OptionalOf(Primitive("str", Constraints(pattern=r"^[a-z]+\d$")))
    assert f["decimal"].shape == OptionalOf(
        Primitive("decimal", Constraints(max_digits=5, decimal_places=2))
    )
    assert f["choice"].shape == OptionalOf(EnumOf(("a", "o", "l")))
    assert f["typed_multiple_choice"].shape == OptionalOf(ListOf(EnumOf((1, 2))))
    assert f["multiple_choice"].shape == OptionalOf(ListOf(EnumOf(("x", "y"))))
    assert f["tags"].shape == OptionalOf(ListOf(Primitive("any")))
    ui = {x.name: x for x in doc.forms[0].fields}
    assert ui["choice"].choices[:2] == (Choice("", "---"), Choice("a", "Apple"))
    assert ui["radio"].choices == (Choice(1, "One"), Choice(2, "Two"))
    assert ui["char"].initial == DefaultValue("hi")
    assert ui["date"].initial == DefaultValue("2024-01-31")
    assert ui["today"].initial == DefaultUnknown()
    assert ui["sized"].dynamic_choices and ui["tag"].dynamic_choices
    assert not ui["choice"].dynamic_choices


def test_model_form_submit_output_is_its_model() -> None:
    doc = ir(with_forms("ticket"))
    assert doc.forms[0].output == Ref("TicketOut")
    assert doc.forms[0].title == "New ticket"
    submit = next(f for f in doc.functions if f.name == "ticket.submit")
    assert submit.auth == "user"


def test_non_scalar_initials_are_json() -> None:
    from mizan_channels.ir.forms import _initial

    assert _initial({"initial": [1, "a"]}) == DefaultJson('[1,"a"]')
    assert _initial({"initial": None}) is None
