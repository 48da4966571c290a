"""The Mizan IR as typed Python values: frozen dataclasses forming the IR's sum types.

`build_ir()` produces these from the registry, `kdl.emit()` writes them and `kdl.parse()`
reads them back, so a generator written in Python works on these objects and never on
KDL nodes. Nothing here imports Django or Pydantic: a generator may use the IR without
the server's dependencies. Tuples (not lists) everywhere keep every value hashable and
comparable, which the round-trip tests rely on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Literal, TypeAlias

#: The version written as `mizan version=1`; a parser refuses any other.
VERSION = 1

#: A JSON scalar: what `default=`, `enum` values and constraint bounds may hold.
Scalar: TypeAlias = str | int | float | bool | None

#: The words `primitive` accepts.
PRIMITIVES = (
    "str",
    "int",
    "float",
    "bool",
    "datetime",
    "date",
    "time",
    "uuid",
    "decimal",
    "bytes",
    "any",
    "null",
)


@dataclass(frozen=True)
class Constraints:
    """Limits on one shape. Field order is the order properties are written in."""

    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    gt: int | float | str | None = None
    ge: int | float | str | None = None
    lt: int | float | str | None = None
    le: int | float | str | None = None
    multiple_of: int | float | str | None = None
    max_digits: int | None = None
    decimal_places: int | None = None
    format: str | None = None

    def items(self) -> list[tuple[str, int | float | str]]:
        """(kdl-property-name, value) for every limit that is set, in writing order."""
        out: list[tuple[str, int | float | str]] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out.append((f.name.replace("_", "-"), value))
        return out


NO_CONSTRAINTS = Constraints()
#: kdl property name -> dataclass attribute name.
CONSTRAINT_KEYS = {f.name.replace("_", "-"): f.name for f in fields(Constraints)}


# Shapes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Primitive:
    kind: str
    constraints: Constraints = NO_CONSTRAINTS


@dataclass(frozen=True)
class Ref:
    name: str


@dataclass(frozen=True)
class ListOf:
    """A JSON array of one item shape; `unique` marks Python sets."""

    item: Shape
    constraints: Constraints = NO_CONSTRAINTS
    unique: bool = False


@dataclass(frozen=True)
class TupleOf:
    """A JSON array of fixed length, one shape per position (`tuple[int, str]`)."""

    items: tuple[Shape, ...]


@dataclass(frozen=True)
class MapOf:
    """A JSON object with string keys and one value shape."""

    value: Shape
    constraints: Constraints = NO_CONSTRAINTS


@dataclass(frozen=True)
class OptionalOf:
    inner: Shape


@dataclass(frozen=True)
class EnumOf:
    """One of these literal values (`Literal[...]`)."""

    values: tuple[str | int | bool, ...]


@dataclass(frozen=True)
class UnionOf:
    """Any of the arms, in declared order; `discriminator` names the tag field if declared."""

    arms: tuple[Shape, ...]
    discriminator: str | None = None


Shape: TypeAlias = Primitive | Ref | ListOf | TupleOf | MapOf | OptionalOf | EnumOf | UnionOf


# Defaults ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DefaultValue:
    """A default that is a JSON scalar, written `default=VALUE` (`default=null` included)."""

    value: Scalar


@dataclass(frozen=True)
class DefaultJson:
    """A default that is a JSON array or object, written `default-json="TEXT"`."""

    json: str


@dataclass(frozen=True)
class DefaultUnknown:
    """A default made by a factory at run time, written `has-default=true`."""


Default: TypeAlias = DefaultValue | DefaultJson | DefaultUnknown


# Named types ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One struct field. `name` is the wire name a client sends; `output_name` is set only
    when the server writes the field under another name (aliases not used when dumping);
    `write_only` when it never writes the field at all (`Field(exclude=True)`)."""

    name: str
    shape: Shape
    default: Default | None = None
    doc: str | None = None
    output_name: str | None = None
    write_only: bool = False

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class Struct:
    name: str
    fields: tuple[Field, ...] = ()
    doc: str | None = None


@dataclass(frozen=True)
class EnumType:
    name: str
    values: tuple[str | int | bool, ...]
    doc: str | None = None


@dataclass(frozen=True)
class Alias:
    name: str
    shape: Shape
    doc: str | None = None


NamedType: TypeAlias = Struct | EnumType | Alias


def keyword(t: NamedType) -> str:
    """The KDL node name of a named type; documents sort declarations by it, then name."""
    return "struct" if isinstance(t, Struct) else "enum" if isinstance(t, EnumType) else "alias"


# Functions, channels, forms -------------------------------------------------------------

Transport = Literal["http", "websocket"]
AuthKind = Literal["user", "staff", "superuser", "custom"]
AUTH_KINDS: tuple[str, ...] = ("user", "staff", "superuser", "custom")


@dataclass(frozen=True)
class Affect:
    """What a mutation invalidates: a context by name, or another function by name."""

    kind: Literal["context", "function"]
    name: str


@dataclass(frozen=True)
class Function:
    name: str
    output: Shape | None
    input: str | None = None
    transport: Transport = "http"
    context: str | None = None
    affects: tuple[Affect, ...] = ()
    auth: AuthKind | None = None
    rev: int = 1
    route: str | None = None
    shared: bool = False
    form: str | None = None
    doc: str | None = None


@dataclass(frozen=True)
class Channel:
    name: str
    params: str
    server_message: str
    client_message: str | None = None
    history: int = 0
    doc: str | None = None
    #: The struct of each connection's presence metadata; None when the channel has none.
    presence: str | None = None


@dataclass(frozen=True)
class Choice:
    value: Scalar
    label: str


@dataclass(frozen=True)
class FormField:
    """What a form renderer needs beyond the field's shape (which lives in the fields
    struct): label, help, widget, initial value and choices."""

    name: str
    label: str | None = None
    help: str | None = None
    widget: str | None = None
    #: `DefaultUnknown` when a callable gives the initial value at run time.
    initial: Default | None = None
    choices: tuple[Choice, ...] = ()
    #: Choices come from a queryset and are loaded at run time (model choice fields).
    dynamic_choices: bool = False
    disabled: bool = False


@dataclass(frozen=True)
class Form:
    name: str
    fields_type: str
    output: Shape | None = None
    title: str | None = None
    submit_label: str | None = None
    fields: tuple[FormField, ...] = ()
    doc: str | None = None


@dataclass(frozen=True)
class Document:
    """A whole IR document. `build_ir()` gives every tuple sorted by name; `emit()` sorts
    anyway, so a document assembled by hand writes the same bytes."""

    types: tuple[NamedType, ...] = ()
    functions: tuple[Function, ...] = ()
    channels: tuple[Channel, ...] = ()
    forms: tuple[Form, ...] = ()
    version: int = VERSION

    def type(self, name: str) -> NamedType | None:
        for t in self.types:
            if t.name == name:
                return t
        return None


__all__ = [
    "AUTH_KINDS",
    "CONSTRAINT_KEYS",
    "NO_CONSTRAINTS",
    "PRIMITIVES",
    "VERSION",
    "Affect",
    "Alias",
    "AuthKind",
    "Channel",
    "Choice",
    "Constraints",
    "Default",
    "DefaultJson",
    "DefaultUnknown",
    "DefaultValue",
    "Document",
    "EnumOf",
    "EnumType",
    "Field",
    "Form",
    "FormField",
    "ListOf",
    "MapOf",
    "NamedType",
    "OptionalOf",
    "Primitive",
    "Ref",
    "Scalar",
    "Shape",
    "Struct",
    "Transport",
    "TupleOf",
    "UnionOf",
    "keyword",
]


# Which way types travel ---------------------------------------------------------------


def refs(shape: Shape) -> Iterator[str]:
    """Every named type `shape` mentions directly."""
    if isinstance(shape, Ref):
        yield shape.name
    elif isinstance(shape, ListOf):
        yield from refs(shape.item)
    elif isinstance(shape, MapOf):
        yield from refs(shape.value)
    elif isinstance(shape, OptionalOf):
        yield from refs(shape.inner)
    elif isinstance(shape, TupleOf | UnionOf):
        for s in shape.items if isinstance(shape, TupleOf) else shape.arms:
            yield from refs(s)


def type_refs(t: NamedType) -> Iterator[str]:
    """Every named type the fields or target of `t` mention directly."""
    if isinstance(t, Struct):
        for f in t.fields:
            yield from refs(f.shape)
    elif isinstance(t, Alias):
        yield from refs(t.shape)


def directions(
    types: Mapping[str, NamedType],
    functions: Iterable[Function],
    channels: Iterable[Channel],
    forms: Iterable[Form],
) -> tuple[frozenset[str], frozenset[str]]:
    """(sent, received): the named types clients send (function inputs, channel params and
    client messages, form fields) and receive (function and form outputs, server messages,
    presence metadata), each with every type it mentions. A type may be in both."""
    sent: list[str] = []
    received: list[str] = []
    for f in functions:
        if f.input:
            sent.append(f.input)
        if f.output is not None:
            received.extend(refs(f.output))
    for c in channels:
        sent.append(c.params)
        received.append(c.server_message)
        if c.client_message:
            sent.append(c.client_message)
        if c.presence:
            received.append(c.presence)
    for form in forms:
        sent.append(form.fields_type)
        if form.output is not None:
            received.extend(refs(form.output))
    return _closure(types, sent), _closure(types, received, written=True)


def _closure(
    types: Mapping[str, NamedType], roots: Iterable[str], written: bool = False
) -> frozenset[str]:
    """`roots` and every type they mention; `written`: only through fields the server
    writes (a type reached only through write-only fields is never received)."""
    seen: set[str] = set()
    todo = [r for r in roots if r in types]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        t = types[name]
        if written and isinstance(t, Struct):
            found: Iterator[str] = (r for f in t.fields if not f.write_only for r in refs(f.shape))
        else:
            found = type_refs(t)
        todo.extend(r for r in found if r in types)
    return frozenset(seen)
