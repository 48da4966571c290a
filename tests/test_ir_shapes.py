"""Annotations Django teams write that the first IR tests didn't cover: each maps to the
shape shared/design/ir.md gives it, and round-trips (tests/ir_helpers.ir checks that)."""

from __future__ import annotations

import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, FutureDate, NaiveDatetime, PastDate

from mizan_channels import client
from mizan_channels.ir.model import DefaultValue, OptionalOf, Primitive, Struct
from tests.ir_helpers import fresh, ir, named


class Event(BaseModel):
    starts: AwareDatetime
    local: NaiveDatetime | None = None
    born: PastDate
    due: FutureDate
    plain: datetime.datetime
    cleared: Literal[None] = None
    maybe_nothing: Literal[None] | None = None


def test_pydantic_temporal_classes_and_literal_none_are_primitives() -> None:
    @client
    def plan(request, e: Event) -> None:
        return None

    event = named(ir(fresh(plan)), "Event")
    assert isinstance(event, Struct)
    f = {x.name: x for x in event.fields}
    assert f["starts"].shape == Primitive("datetime")
    assert f["local"].shape == OptionalOf(Primitive("datetime"))
    assert f["born"].shape == Primitive("date")
    assert f["due"].shape == Primitive("date")
    # An empty `enum` would admit no value at all; `Literal[None]` admits exactly null.
    assert f["cleared"].shape == Primitive("null")
    assert f["cleared"].default == DefaultValue(None)
    assert f["maybe_nothing"].shape == Primitive("null")


class Nested(BaseModel):
    twice: Annotated[int | None, "note"] | None = None


def test_a_nullable_already_optional_annotation_is_one_optional() -> None:
    @client
    def nest(request, n: Nested) -> None:
        return None

    nested = named(ir(fresh(nest)), "Nested")
    assert isinstance(nested, Struct)
    assert nested.fields[0].shape == OptionalOf(Primitive("int"))
