"""Python annotations and Pydantic models -> IR shapes and named types.

The walk reads Pydantic's own field metadata (`model_fields`, `FieldInfo.metadata`, the
annotated-types constraint objects) rather than a JSON Schema, so `int | bool` stays a
union, a default keeps its exact JSON value, and a model keeps one name however often it is
used. Anything that can't be said in the IR raises `IRExportError` naming where it was
found, so a generator never gets a silently weakened type.
"""

from __future__ import annotations

import collections.abc
import datetime as dt
import decimal
import enum
import inspect
import ipaddress
import types
import typing
import uuid
from typing import Any

import typing_extensions
from pydantic import BaseModel, RootModel

from .errors import IRExportError
from .fields import constrain, default_of, input_name, read_meta
from .model import (
    NO_CONSTRAINTS,
    Alias,
    Constraints,
    EnumOf,
    EnumType,
    Field,
    ListOf,
    MapOf,
    NamedType,
    OptionalOf,
    Primitive,
    Ref,
    Shape,
    Struct,
    TupleOf,
    UnionOf,
)

_SCALARS: list[tuple[type, str]] = [
    (bool, "bool"),
    (int, "int"),
    (float, "float"),
    (str, "str"),
    (bytes, "bytes"),
    (dt.datetime, "datetime"),  # before date: datetime is a date
    (dt.date, "date"),
    (dt.time, "time"),
    (uuid.UUID, "uuid"),
    (decimal.Decimal, "decimal"),
]
#: Types Pydantic writes as strings of a known format.
_FORMATTED: list[tuple[type, str]] = [
    (dt.timedelta, "duration"),
    (ipaddress.IPv4Address, "ipv4"),
    (ipaddress.IPv6Address, "ipv6"),
]
#: Pydantic's date/time classes: plain classes at run time (annotations only for type
#: checkers), validated and written exactly like the datetime/date they refine.
_PYDANTIC_TEMPORAL = {
    "AwareDatetime": "datetime",
    "NaiveDatetime": "datetime",
    "PastDatetime": "datetime",
    "FutureDatetime": "datetime",
    "PastDate": "date",
    "FutureDate": "date",
}
_LISTS = {list, collections.abc.Sequence, collections.abc.MutableSequence}
_SETS = {set, frozenset, collections.abc.Set, collections.abc.MutableSet}
_MAPS = {dict, collections.abc.Mapping, collections.abc.MutableMapping}
_UNIONS = {typing.Union, types.UnionType}
_ALIAS_TYPES = tuple(
    t for t in (getattr(typing, "TypeAliasType", None), typing_extensions.TypeAliasType) if t
)


def _named_alias_target(tp: Any) -> Any:
    """What a named alias (`type X = ...`, its backport, or a `NewType`) stands for; None
    for anything else."""
    if type(tp).__name__ == "TypeAliasType" and isinstance(tp, _ALIAS_TYPES):
        return tp.__value__
    if isinstance(tp, typing.NewType):
        return tp.__supertype__
    return None


def path_of(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def doc_of(obj: Any) -> str | None:
    raw = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    if isinstance(obj, type) and raw is None:
        origin = getattr(obj, "__pydantic_generic_metadata__", {}).get("origin")
        raw = origin.__dict__.get("__doc__") if origin is not None else None
    return inspect.cleandoc(raw) if isinstance(raw, str) and raw.strip() else None


class TypeWalker:
    """Accumulates named types while turning annotations into shapes.

    `names` maps every claimed type name to the object that owns it, so two different
    models with one class name are caught with both import paths instead of one
    silently replacing the other.
    """

    def __init__(self) -> None:
        self.types: dict[str, NamedType] = {}
        self.owners: dict[str, tuple[Any, str]] = {}
        self.by_class: dict[Any, str] = {}
        self.forced: dict[Any, str] = {}
        #: struct name -> its fields' Python names, in field order (for discriminators).
        self.pynames: dict[str, tuple[str, ...]] = {}

    # Names --------------------------------------------------------------------------------

    def claim(self, name: str, owner: Any, described: str) -> None:
        taken = self.owners.get(name)
        if taken is not None and taken[0] is not owner:
            raise IRExportError(
                f"Two different types want the IR name {name!r}: {taken[1]} and {described}. "
                "Rename one of the classes (or the function/channel whose name it follows)."
            )
        self.owners[name] = (owner, described)

    def name_for(self, cls: type) -> str:
        name = self.forced.get(cls)
        if name is not None:
            return name
        raw = cls.__name__
        if raw.isidentifier():
            return raw
        # A parametrized generic (`Page[Room]`) gets a concrete name (`PageRoom`).
        from ..client import pascal

        return pascal(raw)

    # Shapes -------------------------------------------------------------------------------

    def shape(self, tp: Any, where: str, meta: tuple[Any, ...] = ()) -> Shape:
        """The shape of annotation `tp`; `meta` holds constraint objects for its top."""
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            inner, *extra = typing.get_args(tp)
            return self.shape(inner, where, (*meta, *extra))
        constraints, discriminator = read_meta(meta)
        named_alias = _named_alias_target(tp)
        if named_alias is not None:
            # A ref carries no limits and no discriminator: a use that adds either keeps the
            # shape inline, with them.
            if constraints != NO_CONSTRAINTS or discriminator is not None:
                return self.shape(named_alias, where, meta)
            return Ref(self.named_alias(tp, named_alias, where))
        if origin in _UNIONS:
            return self._union(typing.get_args(tp), where, meta, discriminator)
        if origin is typing.Literal:
            return self._literal(typing.get_args(tp), where, tp)
        if origin is not None:
            return constrain(self._generic(tp, origin, where), constraints)
        if tp is None or tp is type(None):
            return Primitive("null")
        if tp is Any or tp is object:
            return Primitive("any")
        if isinstance(tp, type):
            return constrain(self._class(tp, where), constraints)
        if isinstance(tp, typing.TypeVar):
            raise IRExportError(
                f"{where}: type variable {tp} has no concrete type. Use the generic model with "
                "parameters, e.g. Page[Room] instead of Page."
            )
        raise self._unsupported(tp, where)

    def _unsupported(self, tp: Any, where: str) -> IRExportError:
        return IRExportError(
            f"{where}: type {tp!r} can't be described in the Mizan IR. Use a Pydantic model, "
            "a primitive (str, int, float, bool, datetime, date, time, UUID, Decimal, bytes), "
            "list/tuple/set/dict[str, T], Optional, Literal, an Enum, or a union of these."
        )

    def _union(self, args: tuple[Any, ...], where: str, meta: tuple[Any, ...], disc: Any) -> Shape:
        arms = [a for a in args if a is not None and a is not type(None)]
        nullable = len(arms) < len(args)
        if len(arms) == 1:
            inner = self.shape(arms[0], where, meta)
        else:
            inner = UnionOf(tuple(self.shape(a, where) for a in arms), disc)
        if not nullable or isinstance(inner, OptionalOf) or inner == Primitive("null"):
            return inner  # already admits null: `optional { optional ... }` says nothing more
        return OptionalOf(inner)

    def _literal(self, values: tuple[Any, ...], where: str, tp: Any) -> Shape:
        out: list[str | int | bool] = []
        nullable = False
        for v in values:
            raw = v.value if isinstance(v, enum.Enum) else v
            if raw is None:
                nullable = True
            elif isinstance(raw, str | int | bool) and not isinstance(raw, float):
                out.append(raw)
            else:
                raise IRExportError(
                    f"{where}: {tp!r} holds {raw!r}; Literal values must be str, int or bool."
                )
        if not out:  # `Literal[None]`: only null; an empty enum would admit nothing
            return Primitive("null")
        shape = EnumOf(tuple(out))
        return OptionalOf(shape) if nullable else shape

    def _generic(self, tp: Any, origin: Any, where: str) -> Shape:
        args = typing.get_args(tp)
        if origin in _LISTS or origin in _SETS:
            item = self.shape(args[0], where) if args else Primitive("any")
            return ListOf(item, unique=origin in _SETS)
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return ListOf(self.shape(args[0], where))
            if args == ((),):
                return TupleOf(())
            return TupleOf(tuple(self.shape(a, where) for a in args))
        if origin in _MAPS:
            key = args[0] if args else str
            if key is not str and not (
                typing.get_origin(key) is typing.Annotated and typing.get_args(key)[0] is str
            ):
                raise IRExportError(
                    f"{where}: {tp!r} has {key!r} keys; JSON object keys are strings, so "
                    "declare dict[str, T]."
                )
            return MapOf(self.shape(args[1], where) if len(args) > 1 else Primitive("any"))
        if isinstance(origin, type) and issubclass(origin, BaseModel):
            return self._class(tp, where)
        raise self._unsupported(tp, where)

    def _class(self, cls: type, where: str) -> Shape:
        if issubclass(cls, enum.Enum):
            return Ref(self.enum(cls, where))
        if issubclass(cls, BaseModel):
            if issubclass(cls, RootModel):
                return Ref(self.root_model(cls, where))
            return Ref(self.struct(cls))
        for base, kind in _SCALARS:
            if issubclass(cls, base):
                return Primitive(kind)
        for base, fmt in _FORMATTED:
            if issubclass(cls, base):
                return Primitive("str", Constraints(format=fmt))
        module = getattr(cls, "__module__", "")
        if module.startswith("pydantic") and cls.__name__ in _PYDANTIC_TEMPORAL:
            return Primitive(_PYDANTIC_TEMPORAL[cls.__name__])
        if module.startswith("pydantic"):
            known = {"EmailStr": "email", "NameEmail": "name-email"}.get(cls.__name__)
            if known is None and "Url" in cls.__name__:
                known = "url"
            if known is not None:
                return Primitive("str", Constraints(format=known))
        if cls in (list, tuple, set, frozenset):
            return ListOf(Primitive("any"), unique=cls in (set, frozenset))
        if cls is dict:
            return MapOf(Primitive("any"))
        raise self._unsupported(cls, where)

    # Named types --------------------------------------------------------------------------

    def enum(self, cls: type[enum.Enum], where: str) -> str:
        if cls in self.by_class:
            return self.by_class[cls]
        name = self.name_for(cls)
        self.claim(name, cls, path_of(cls))
        values: list[str | int | bool] = []
        for member in cls:
            if not isinstance(member.value, str | int) or isinstance(member.value, float):
                raise IRExportError(
                    f"{where}: enum {path_of(cls)} member {member.name} = {member.value!r}; "
                    "IR enums hold str or int values."
                )
            values.append(member.value)
        self.by_class[cls] = name
        self.types[name] = EnumType(name, tuple(values), doc_of(cls))
        return name

    def named_alias(self, alias: Any, target: Any, where: str) -> str:
        """`type Tags = list[str]` or `NewType("UserId", int)`: an IR alias of that name,
        referred to by name (so a recursive `type` alias ends in a ref to itself)."""
        if alias in self.by_class:
            return self.by_class[alias]
        name: str = alias.__name__
        self.claim(name, alias, f"{getattr(alias, '__module__', '?')}.{name}")
        self.by_class[alias] = name
        shape = self.shape(target, f"{where}: alias {name}")
        self.types[name] = Alias(name, shape)
        return name

    def root_model(self, cls: type[RootModel[Any]], where: str) -> str:
        if cls in self.by_class:
            return self.by_class[cls]
        name = self.name_for(cls)
        self.claim(name, cls, path_of(cls))
        self.by_class[cls] = name
        info = cls.model_fields["root"]
        shape = self.shape(
            info.annotation, f"{where}: root of {path_of(cls)}", tuple(info.metadata)
        )
        self.types[name] = Alias(name, shape, doc_of(cls))
        return name

    def struct(self, cls: type[BaseModel], described: str | None = None) -> str:
        """Define `cls` as a struct (once) and return its IR name."""
        if cls in self.by_class:
            return self.by_class[cls]
        name = self.name_for(cls)
        self.claim(name, cls, described or path_of(cls))
        self.by_class[cls] = name  # before the fields: recursive models refer to themselves
        if cls.__pydantic_fields_complete__ is False:
            raise IRExportError(
                f"{described or path_of(cls)} has annotations Pydantic couldn't resolve. "
                "Define the referenced classes first, then call model_rebuild()."
            )
        config = cls.model_config
        by_alias_in = config.get("validate_by_alias", True) is not False
        by_alias_out = bool(config.get("serialize_by_alias", False))
        fields: list[Field] = []
        owner = described or path_of(cls)
        for pyname, info in cls.model_fields.items():
            where = f"field {pyname!r} of {owner}"
            wire = input_name(pyname, info, by_alias_in, where)
            out = (info.serialization_alias or info.alias or pyname) if by_alias_out else pyname
            fields.append(
                Field(
                    name=wire,
                    shape=self.shape(info.annotation, where, (info,)),
                    default=default_of(info, where),
                    doc=info.description or None,
                    output_name=out if out != wire and info.exclude is not True else None,
                    write_only=info.exclude is True,
                )
            )
        _unique_keys(owner, tuple(cls.model_fields), fields)
        self.types[name] = Struct(name, tuple(fields), doc_of(cls))
        self.pynames[name] = tuple(cls.model_fields)
        return name


def _unique_keys(owner: str, pynames: tuple[str, ...], fields: list[Field]) -> None:
    """Two fields under one wire key (`a = Field(alias="b")` next to `b`) can't both be in
    one JSON object, and a generator can't declare both: refuse, naming the two fields."""
    keys_read: list[str | None] = [f.name for f in fields]
    keys_written = [None if f.write_only else f.output_name or f.name for f in fields]
    for direction, keys in (("read", keys_read), ("written", keys_written)):
        seen: dict[str, str] = {}
        for pyname, key in zip(pynames, keys, strict=True):
            if key is None:  # never written
                continue
            if key in seen:
                raise IRExportError(
                    f"{owner}: fields {seen[key]!r} and {pyname!r} are both {direction} under "
                    f"the key {key!r}. Give one of them another alias."
                )
            seen[key] = pyname


__all__ = ["IRExportError", "TypeWalker", "doc_of", "path_of"]
