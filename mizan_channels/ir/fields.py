"""One Pydantic field's metadata -> IR limits, discriminator, default and wire name.

Read straight from `FieldInfo` and the annotated-types objects Pydantic keeps in
`metadata`, so a default keeps its exact JSON value and a limit lands on the shape it
limits. Validators and other server-side rules are left out: the server still enforces them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import math
from typing import Any

import annotated_types as at
from pydantic import AliasChoices, Discriminator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_jsonable_python

from .errors import IRExportError
from .model import (
    NO_CONSTRAINTS,
    Constraints,
    Default,
    DefaultJson,
    DefaultUnknown,
    DefaultValue,
    ListOf,
    MapOf,
    OptionalOf,
    Primitive,
    Shape,
)

#: annotated-types constraint classes -> the attribute (and Constraints field) they set.
_LIMIT_ATTRS: dict[type, str] = {
    at.MinLen: "min_length",
    at.MaxLen: "max_length",
    at.Gt: "gt",
    at.Ge: "ge",
    at.Lt: "lt",
    at.Le: "le",
    at.MultipleOf: "multiple_of",
}
_FACTORY_JSON = {list: "[]", tuple: "[]", set: "[]", frozenset: "[]", dict: "{}"}


def input_name(pyname: str, info: FieldInfo, by_alias: bool, where: str) -> str:
    if not by_alias:
        return pyname
    alias = info.validation_alias
    if isinstance(alias, str):
        return alias
    if isinstance(alias, AliasChoices):
        first = alias.choices[0]
        if isinstance(first, str):
            return first
    if alias is not None:
        raise IRExportError(
            f"{where}: validation_alias {alias!r} reads a nested path; the IR names one wire "
            "key per field. Use a plain string alias."
        )
    return info.alias or pyname


def read_meta(meta: tuple[Any, ...]) -> tuple[Constraints, str | None]:
    """Constraint objects (annotated-types, Pydantic's) -> Constraints + discriminator.
    Validators and other server-side metadata are left out: the server still enforces them."""
    if not meta or (
        len(meta) == 1
        and isinstance(meta[0], FieldInfo)
        and not meta[0].metadata
        and meta[0].discriminator is None
    ):
        return NO_CONSTRAINTS, None  # the common case, kept cheap for large registries
    found: dict[str, Any] = {}
    disc: str | None = None
    stack = list(meta)
    while stack:
        m = stack.pop(0)
        attr = _LIMIT_ATTRS.get(type(m))
        if attr is not None:
            found[attr] = getattr(m, attr)
        elif isinstance(m, FieldInfo):
            stack[:0] = list(m.metadata)
            disc = _discriminator_name(m.discriminator) or disc
        elif getattr(m, "__is_annotated_types_grouped_metadata__", False):
            stack[:0] = list(m)  # Interval, Len, StringConstraints: several limits in one
        elif type(m).__name__ == "_PydanticGeneralMetadata":
            for key in ("pattern", "max_digits", "decimal_places"):
                value = getattr(m, key, None)
                if value is not None:
                    found[key] = getattr(value, "pattern", value)  # a compiled re, or a str
        elif isinstance(m, Discriminator):
            disc = _discriminator_name(m) or disc
    clean: dict[str, Any] = {k: _bound(v) for k, v in found.items() if v is not None}
    return (Constraints(**clean) if clean else NO_CONSTRAINTS), disc


def _discriminator_name(d: Any) -> str | None:
    """The tag field's name; a callable discriminator has none a client could use."""
    if isinstance(d, str):
        return d
    inner = getattr(d, "discriminator", None)
    return inner if isinstance(inner, str) else None


def _bound(value: Any) -> int | float | str:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def constrain(shape: Shape, c: Constraints) -> Shape:
    if c is NO_CONSTRAINTS or c == NO_CONSTRAINTS:
        return shape
    if isinstance(shape, Primitive):
        if shape.constraints is NO_CONSTRAINTS:
            return Primitive(shape.kind, c)
        return Primitive(shape.kind, dataclasses.replace(shape.constraints, **_as_dict(c)))
    if isinstance(shape, ListOf):
        return ListOf(shape.item, c, shape.unique)
    if isinstance(shape, MapOf):
        return MapOf(shape.value, c)
    if isinstance(shape, OptionalOf):
        return OptionalOf(constrain(shape.inner, c))
    return shape  # refs and unions carry no limits of their own; the server still checks


def _as_dict(c: Constraints) -> dict[str, Any]:
    return {k.replace("-", "_"): v for k, v in c.items()}


def default_of(info: FieldInfo, where: str) -> Default | None:
    factory = info.default_factory
    if factory is not None:
        text = _FACTORY_JSON.get(factory)  # type: ignore[call-overload]
        return DefaultJson(text) if text is not None else DefaultUnknown()
    if info.default is PydanticUndefined:
        return None
    try:
        value = to_jsonable_python(info.default)
    except Exception as exc:
        raise IRExportError(f"{where}: default {info.default!r} isn't JSON: {exc}") from None
    if isinstance(info.default, set | frozenset) and isinstance(value, list):
        value = sorted(value, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, float) and not math.isfinite(value):
        raise IRExportError(f"{where}: default {value!r} has no JSON form; use a finite number.")
    if value is None or isinstance(value, str | int | float | bool):
        return DefaultValue(value)
    try:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except ValueError as exc:
        raise IRExportError(f"{where}: default {info.default!r} has no JSON form: {exc}") from None
    return DefaultJson(text)
