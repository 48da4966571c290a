"""Property tests: random IR documents and random Pydantic model trees round-trip exactly
(`parse(emit(doc)) == doc` and `emit(parse(text)) == text`)."""

from __future__ import annotations

import datetime
import decimal
import itertools
import uuid
from typing import Any, Literal, Optional

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import create_model

from mizan_channels.client import build_spec
from mizan_channels.ir import emit, parse
from mizan_channels.ir.model import (
    AUTH_KINDS,
    PRIMITIVES,
    Affect,
    Alias,
    Channel,
    Choice,
    Constraints,
    DefaultJson,
    DefaultUnknown,
    DefaultValue,
    Document,
    EnumOf,
    EnumType,
    Field,
    Form,
    FormField,
    Function,
    ListOf,
    MapOf,
    OptionalOf,
    Primitive,
    Ref,
    Struct,
    TupleOf,
    UnionOf,
    keyword,
)
from mizan_channels.registry import Registry
from tests.ir_helpers import ir

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(max_size=12)
maybe_text = st.none() | text
finite = st.floats(allow_nan=False, allow_infinity=False)
scalar = st.none() | st.booleans() | st.integers() | finite | text
literal = st.booleans() | st.integers() | text
number = st.none() | st.integers() | finite | text
count = st.none() | st.integers(min_value=0, max_value=10**6)
constraints = st.builds(
    Constraints,
    min_length=count,
    max_length=count,
    pattern=maybe_text,
    gt=number,
    ge=number,
    lt=number,
    le=number,
    multiple_of=number,
    max_digits=count,
    decimal_places=count,
    format=maybe_text,
)
defaults = (
    st.none()
    | st.builds(DefaultValue, scalar)
    | st.just(DefaultUnknown())
    | st.sampled_from([DefaultJson("[]"), DefaultJson('{"a":[1,2.5,null]}')])
)


def shapes(names: list[str]) -> st.SearchStrategy[Any]:
    leaves = st.builds(Primitive, st.sampled_from(PRIMITIVES), constraints) | st.builds(
        EnumOf, st.lists(literal, max_size=4).map(tuple)
    )
    if names:
        leaves = leaves | st.builds(Ref, st.sampled_from(names))

    def extend(child: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return (
            st.builds(ListOf, child, constraints, st.booleans())
            | st.builds(TupleOf, st.lists(child, max_size=3).map(tuple))
            | st.builds(MapOf, child, constraints)
            | st.builds(OptionalOf, child)
            | st.builds(UnionOf, st.lists(child, min_size=2, max_size=3).map(tuple), maybe_text)
        )

    return st.recursive(leaves, extend, max_leaves=8)


@st.composite
def documents(draw: st.DrawFn) -> Document:
    type_names = draw(st.lists(text, unique=True, max_size=5))
    struct_count = draw(st.integers(0, len(type_names)))
    structs, others = type_names[:struct_count], type_names[struct_count:]
    shape = shapes(type_names)
    types: list[Any] = []
    for name in structs:
        fields = draw(
            st.lists(
                st.builds(Field, text, shape, defaults, maybe_text, maybe_text),
                max_size=4,
                unique_by=lambda f: f.name,  # a field name appears once per struct
            ).map(tuple)
        )
        types.append(Struct(name, fields, draw(maybe_text)))
    for name in others:
        if draw(st.booleans()):
            types.append(
                EnumType(name, tuple(draw(st.lists(literal, max_size=4))), draw(maybe_text))
            )
        else:
            types.append(Alias(name, draw(shape), draw(maybe_text)))
    struct_name = st.sampled_from(structs) if structs else st.nothing()
    optional_struct = st.none() | struct_name if structs else st.none()
    functions = [
        Function(
            name=name,
            output=draw(st.none() | shape),
            input=draw(optional_struct),
            transport=draw(st.sampled_from(["http", "websocket"])),
            context=draw(maybe_text),
            affects=tuple(
                draw(st.lists(st.builds(Affect, st.sampled_from(["context", "function"]), text)))
            ),
            auth=draw(st.none() | st.sampled_from(AUTH_KINDS)),
            rev=draw(st.integers(1, 10**9)),
            route=draw(maybe_text),
            shared=draw(st.booleans()),
            form=draw(maybe_text),
            doc=draw(maybe_text),
        )
        for name in draw(st.lists(text, unique=True, max_size=3))
    ]
    channels: list[Channel] = []
    forms: list[Form] = []
    if structs:
        channels = [
            Channel(
                name,
                draw(struct_name),
                draw(struct_name),
                draw(optional_struct),
                draw(st.integers(0, 1000)),
                draw(maybe_text),
                presence=draw(optional_struct),
            )
            for name in draw(st.lists(text, unique=True, max_size=2))
        ]
        form_field = st.builds(
            FormField,
            text,
            maybe_text,
            maybe_text,
            maybe_text,
            st.none() | st.builds(DefaultValue, scalar) | st.just(DefaultJson("[1]")),
            st.lists(st.builds(Choice, scalar, text), max_size=3).map(tuple),
            st.booleans(),
        )
        forms = [
            Form(
                name,
                draw(struct_name),
                draw(st.none() | shape),
                draw(maybe_text),
                draw(maybe_text),
                tuple(draw(st.lists(form_field, max_size=3, unique_by=lambda f: f.name))),
                draw(maybe_text),
            )
            for name in draw(st.lists(text, unique=True, max_size=2))
        ]
    return Document(tuple(types), tuple(functions), tuple(channels), tuple(forms))


def sorted_doc(doc: Document) -> Document:
    return Document(
        tuple(sorted(doc.types, key=lambda t: (keyword(t), t.name))),
        tuple(sorted(doc.functions, key=lambda f: f.name)),
        tuple(sorted(doc.channels, key=lambda c: c.name)),
        tuple(sorted(doc.forms, key=lambda f: f.name)),
    )


@FAST
@given(documents())
def test_random_documents_round_trip(doc: Document) -> None:
    written = emit(doc)
    back = parse(written)
    assert back == sorted_doc(doc)
    assert emit(back) == written


# Random Pydantic model trees ------------------------------------------------------------

_ids = itertools.count()
LEAVES: list[tuple[Any, st.SearchStrategy[Any] | None]] = [
    (str, text),
    (int, st.integers(-(2**70), 2**70)),
    (float, finite),
    (bool, st.booleans()),
    (datetime.datetime, None),
    (datetime.date, None),
    (uuid.UUID, None),
    (decimal.Decimal, None),
    (Literal["a", "b", 3], st.sampled_from(["a", "b", 3])),
    (int | bool, st.integers(-5, 5)),
]


@st.composite
def annotation(draw: st.DrawFn, depth: int = 0) -> tuple[Any, st.SearchStrategy[Any] | None]:
    """An annotation and, when easy to make, a strategy for a valid default of it."""
    choice = draw(st.integers(0, 6 if depth < 3 else 0))
    if choice == 0:
        return draw(st.sampled_from(LEAVES))
    inner, inner_values = draw(annotation(depth + 1))
    if choice == 1:
        return list[inner], st.just([])  # type: ignore[valid-type]
    if choice == 2:
        return dict[str, inner], st.just({})  # type: ignore[valid-type]
    if choice == 3:
        return Optional[inner], st.none()  # noqa: UP045
    if choice == 4:
        return tuple[inner, ...], None  # type: ignore[valid-type]
    if choice == 5:
        return draw(model(depth + 1)), None
    return inner | None, inner_values


@st.composite
def model(draw: st.DrawFn, depth: int = 0) -> type[Any]:
    fields: dict[str, Any] = {}
    for i in range(draw(st.integers(0, 4))):
        tp, values = draw(annotation(depth))
        if values is not None and draw(st.booleans()):
            fields[f"f{i}"] = (tp, draw(values))
        else:
            fields[f"f{i}"] = (tp, ...)
    return create_model(f"M{next(_ids)}", **fields)


@FAST
@given(model())
def test_random_model_trees_round_trip(top: type[Any]) -> None:
    def fetch(request):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    fetch.__annotations__ = {"arg": top, "return": list[top]}  # type: ignore[valid-type]
    reg = Registry()
    reg.add_function(build_spec(fetch), "fetch")
    doc = ir(reg)  # asserts parse(emit(doc)) == doc and emit(parse(text)) == text
    struct = doc.type(top.__name__)
    assert isinstance(struct, Struct)
    for field, (name, info) in zip(struct.fields, top.model_fields.items(), strict=True):
        assert field.name == name
        if info.is_required():
            assert field.default is None
        elif isinstance(field.default, DefaultValue):
            assert field.default.value == info.default
            assert type(field.default.value) is type(info.default)
