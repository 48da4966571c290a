"""A registered Django form -> the IR's `form` node and its `<Name>Fields` struct.

The struct says what each field holds and its limits, in the same shapes as everything
else, so a generator validates a form client-side with the code it already has for
structs. The `form` node keeps what only a renderer needs: labels, help, widgets, initial
values and choices. Both come from `describe_form(cls)` without evaluation, which runs no
user code and no queries, so the export stays deterministic; run-time choices and
initials are marked dynamic instead of listed.
"""

from __future__ import annotations

import json
from typing import Any

from ..client import pascal
from ..forms import describe_form
from ..registry import Registry
from .model import (
    NO_CONSTRAINTS,
    Choice,
    Constraints,
    Default,
    DefaultJson,
    DefaultUnknown,
    DefaultValue,
    EnumOf,
    Field,
    Form,
    FormField,
    ListOf,
    OptionalOf,
    Primitive,
    Ref,
    Shape,
    Struct,
    TupleOf,
)
from .types import TypeWalker, doc_of, path_of

#: describe_form's field kinds -> (primitive, string format). Choice kinds are handled apart.
_KINDS: dict[str, tuple[str, str | None]] = {
    "char": ("str", None),
    "email": ("str", "email"),
    "url": ("str", "url"),
    "slug": ("str", "slug"),
    "regex": ("str", None),
    "ip": ("str", "ip"),
    "uuid": ("uuid", None),
    "integer": ("int", None),
    "float": ("float", None),
    "decimal": ("decimal", None),
    "boolean": ("bool", None),
    "null_boolean": ("bool", None),
    "date": ("date", None),
    "datetime": ("datetime", None),
    "time": ("time", None),
    "duration": ("str", "duration"),
}
#: A multiple-choice kind -> the kind of one of its items.
_MULTIPLE = {
    "multiple_choice": "choice",
    "typed_multiple_choice": "typed_choice",
    "model_multiple_choice": "model_choice",
}


def build_form(name: str, cls: type[Any], walker: TypeWalker, registry: Registry) -> Form:
    """The `form` node of `cls`, registering its fields struct with `walker`."""
    described = describe_form(cls)
    struct_name = pascal(name) + "Fields"
    walker.claim(struct_name, cls, f"the fields of form {name!r} ({path_of(cls)})")
    fields: list[Field] = []
    ui: list[FormField] = []
    for f in described["fields"]:
        shape = _shape(f)
        required = bool(f["required"]) and f["kind"] != "null_boolean"
        fields.append(
            Field(
                name=f["name"],
                shape=shape if required else OptionalOf(shape),
                default=None if required else DefaultValue(None),
            )
        )
        ui.append(
            FormField(
                name=f["name"],
                label=f.get("label") or None,
                help=f.get("help") or None,
                widget=f.get("widget") or None,
                initial=_initial(f),
                choices=tuple(Choice(v, str(label)) for v, label in f.get("choices") or ()),
                dynamic_choices=bool(f.get("dynamic")),
                disabled=bool(f.get("disabled")),
            )
        )
    walker.types[struct_name] = Struct(struct_name, tuple(fields), doc_of(cls))
    return Form(
        name=name,
        fields_type=struct_name,
        output=_submit_output(name, walker, registry),
        title=described.get("title"),
        submit_label=described.get("submit_label"),
        fields=tuple(ui),
        doc=doc_of(cls),
    )


def _submit_output(name: str, walker: TypeWalker, registry: Registry) -> Shape | None:
    submit = registry.functions.get(f"{name}.submit")
    if submit is None or submit.output_adapter is None:
        return None
    shape = walker.shape(submit.output, f"the submit output of form {name!r}")
    if isinstance(shape, ListOf | TupleOf):  # the function's own node names it an alias
        return Ref(pascal(submit.name or f"{name}.submit") + "Output")
    return shape


def _shape(f: dict[str, Any]) -> Shape:
    kind = f["kind"]
    base = _MULTIPLE.get(kind, kind)
    if base in ("choice", "typed_choice", "model_choice"):
        item = _choice_shape(f)
    elif base in _KINDS:
        primitive, fmt = _KINDS[base]
        item = Primitive(primitive, _limits(f, fmt))
    else:  # json, combo, multi, split_datetime, any: the server's form is the only judge
        item = Primitive("any")
    return ListOf(item) if kind in _MULTIPLE else item


def _choice_shape(f: dict[str, Any]) -> Shape:
    values = [v for v, _ in f.get("choices") or () if v not in ("", None)]
    if f.get("dynamic") or not values:
        return Primitive("any")
    if all(isinstance(v, str | int | bool) and not isinstance(v, float) for v in values):
        return EnumOf(tuple(values))
    return Primitive("any")


def _limits(f: dict[str, Any], fmt: str | None) -> Constraints:
    found: dict[str, Any] = {
        "min_length": f.get("min_length"),
        "max_length": f.get("max_length"),
        "ge": f.get("min_value"),
        "le": f.get("max_value"),
        "multiple_of": f.get("step"),
        "max_digits": f.get("max_digits"),
        "decimal_places": f.get("decimal_places"),
        "format": fmt,
    }
    # A pattern with flags (re.I ...) would be wrong without them; the server still checks it.
    if f.get("pattern") and not f.get("pattern_flags"):
        found["pattern"] = f["pattern"]
    clean = {k: v for k, v in found.items() if v is not None}
    return Constraints(**clean) if clean else NO_CONSTRAINTS


def _initial(f: dict[str, Any]) -> Default | None:
    if f.get("initial_dynamic"):
        return DefaultUnknown()
    value = f.get("initial")
    if value is None:
        return None
    if isinstance(value, str | int | float | bool):
        return DefaultValue(value)
    return DefaultJson(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
