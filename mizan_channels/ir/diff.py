"""Compare two IR documents: every change, each judged breaking or compatible for clients.

A change breaks a client generated from OLD when that client, talking to the NEW server,
could fail: a function, channel, form, field or type it uses is gone (a rename is a removal
plus an addition), what it sends is accepted no longer (a narrowed type, a tighter limit, a
new required field, a removed enum value), what it receives may hold something it was not
typed for (a widened output, a new enum value in an output), calling needs more than before
(stricter auth, another transport), or the function's `rev` was bumped (its cached values
and its clients' assumptions are void by declaration). Whether a named type is sent,
received or both comes from where the two documents use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .model import (
    Alias,
    Channel,
    Constraints,
    Document,
    EnumOf,
    EnumType,
    Field,
    Form,
    Function,
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
    directions,
)

Direction = Literal["in", "out"]
_AUTH_RANK = {None: 0, "user": 1, "staff": 2, "superuser": 3}


@dataclass(frozen=True, order=True)
class Change:
    where: str
    what: str
    breaking: bool

    def line(self) -> str:
        return f"{'BREAKING' if self.breaking else 'compatible'}  {self.where}: {self.what}"


def _directions(doc: Document) -> dict[str, set[Direction]]:
    """Named type -> whether clients send it ("in"), receive it ("out"), or both."""
    types = {t.name: t for t in doc.types}
    sent, received = directions(types, doc.functions, doc.channels, doc.forms)
    out: dict[str, set[Direction]] = {}
    for name in sent:
        out.setdefault(name, set()).add("in")
    for name in received:
        out.setdefault(name, set()).add("out")
    return out


def _tighter(old: Constraints, new: Constraints) -> list[str]:
    """Limits NEW adds or tightens compared with OLD."""
    out: list[str] = []
    for key in ("min_length", "gt", "ge", "max_digits", "decimal_places"):
        a, b = getattr(old, key), getattr(new, key)
        lower_bound = key in ("min_length", "gt", "ge")
        if b is not None and (a is None or _cmp(b, a, lower_bound)):
            out.append(f"{key.replace('_', '-')} {a} -> {b}")
    for key in ("max_length", "lt", "le"):
        a, b = getattr(old, key), getattr(new, key)
        if b is not None and (a is None or _cmp(a, b, True)):
            out.append(f"{key.replace('_', '-')} {a} -> {b}")
    for key in ("pattern", "format", "multiple_of"):
        a, b = getattr(old, key), getattr(new, key)
        if b is not None and a != b:
            out.append(f"{key.replace('_', '-')} {a!r} -> {b!r}")
    return out


def _cmp(big: object, small: object, strict: bool) -> bool:
    try:
        return bool(big > small)  # type: ignore[operator]
    except TypeError:
        return big != small


class _Differ:
    def __init__(self, old: Document, new: Document) -> None:
        self.old, self.new = old, new
        self.old_types = {t.name: t for t in old.types}
        self.new_types = {t.name: t for t in new.types}
        dirs_old, dirs_new = _directions(old), _directions(new)
        self.dirs = {
            n: dirs_old.get(n, set()) | dirs_new.get(n, set()) for n in {*dirs_old, *dirs_new}
        }
        self.changes: list[Change] = []

    def add(self, where: str, what: str, breaking: bool) -> None:
        self.changes.append(Change(where, what, breaking))

    # Shapes: does every value valid for `a` fit `b`? -----------------------------------

    def fits(self, a: Shape, b: Shape) -> bool:
        if a == b:
            return True
        if isinstance(b, Primitive) and b.kind == "any":
            return True
        if isinstance(b, OptionalOf):
            if isinstance(a, OptionalOf):
                return self.fits(a.inner, b.inner)
            return (isinstance(a, Primitive) and a.kind == "null") or self.fits(a, b.inner)
        if isinstance(a, UnionOf):
            return all(self.fits(x, b) for x in a.arms)
        if isinstance(b, UnionOf):
            return any(self.fits(a, x) for x in b.arms)
        if isinstance(a, Primitive) and isinstance(b, Primitive):
            kinds_ok = a.kind == b.kind or (a.kind, b.kind) == ("int", "float")
            return kinds_ok and not _tighter(a.constraints, b.constraints)
        if isinstance(a, EnumOf):
            if isinstance(b, EnumOf):
                return set(a.values) <= set(b.values)
            if isinstance(b, Primitive):
                return all(
                    (b.kind == "str" and isinstance(v, str))
                    or (
                        b.kind in ("int", "float")
                        and isinstance(v, int)
                        and not isinstance(v, bool)
                    )
                    or (b.kind == "bool" and isinstance(v, bool))
                    for v in a.values
                )
            return False
        if isinstance(a, ListOf) and isinstance(b, ListOf):
            return self.fits(a.item, b.item) and not _tighter(a.constraints, b.constraints)
        if isinstance(a, MapOf) and isinstance(b, MapOf):
            return self.fits(a.value, b.value) and not _tighter(a.constraints, b.constraints)
        if isinstance(a, TupleOf) and isinstance(b, TupleOf):
            return len(a.items) == len(b.items) and all(
                self.fits(x, y) for x, y in zip(a.items, b.items, strict=True)
            )
        if isinstance(a, Ref) and isinstance(b, Ref):
            return a.name == b.name  # a type's own changes are reported on the type
        return False

    def shape_change(self, where: str, old: Shape, new: Shape, dirs: set[Direction]) -> None:
        if old == new:
            return
        narrowed = "in" in dirs and not self.fits(old, new)
        widened = "out" in dirs and not self.fits(new, old)
        why = "narrowed (clients may send what it refuses)" if narrowed else ""
        if widened:
            why = "widened (clients may receive what they were not typed for)"
        self.add(where, f"type changed{': ' + why if why else ''}", narrowed or widened)

    # Declarations ----------------------------------------------------------------------

    def types(self) -> None:
        for name in sorted({*self.old_types, *self.new_types}):
            a, b = self.old_types.get(name), self.new_types.get(name)
            where = f'type "{name}"'
            if b is None:
                self.add(where, "removed", True)
            elif a is None:
                self.add(where, "added", False)
            elif type(a) is not type(b):
                self.add(where, "changed kind", True)
            else:
                self.named(where, a, b, self.dirs.get(name, set()))

    def named(self, where: str, a: NamedType, b: NamedType, dirs: set[Direction]) -> None:
        if isinstance(a, EnumType) and isinstance(b, EnumType):
            gone, new = set(a.values) - set(b.values), set(b.values) - set(a.values)
            for v in sorted(gone, key=repr):
                self.add(where, f"value {v!r} removed", True)
            for v in sorted(new, key=repr):
                self.add(where, f"value {v!r} added", "out" in dirs)
        elif isinstance(a, Alias) and isinstance(b, Alias):
            self.shape_change(where, a.shape, b.shape, dirs)
        elif isinstance(a, Struct) and isinstance(b, Struct):
            self.struct(where, a, b, dirs)
        if a.doc != b.doc:
            self.add(where, "doc changed", False)

    def struct(self, where: str, a: Struct, b: Struct, dirs: set[Direction]) -> None:
        old = {f.name: f for f in a.fields}
        new = {f.name: f for f in b.fields}
        for name in [f.name for f in a.fields if f.name not in new]:
            self.add(f"{where} field {name!r}", "removed", True)
        for f in b.fields:
            if f.name not in old:
                required_in = "in" in dirs and f.required
                what = "added, required" if required_in else "added"
                self.add(f"{where} field {f.name!r}", what, required_in)
            else:
                self.field(f"{where} field {f.name!r}", old[f.name], f, dirs)

    def field(self, where: str, a: Field, b: Field, dirs: set[Direction]) -> None:
        if a.write_only and b.write_only:  # never written, never read by a client
            dirs = dirs - {"out"}
        self.shape_change(where, a.shape, b.shape, dirs)
        if a.required != b.required:
            now = "required" if b.required else "optional"
            self.add(where, f"now {now}", b.required and "in" in dirs)
        elif a.default != b.default:
            self.add(where, "default changed", False)
        if (a.output_name or a.name) != (b.output_name or b.name):
            self.add(where, "written under another name", "out" in dirs)
        if a.write_only != b.write_only:
            now = "no longer written" if b.write_only else "now written"
            self.add(where, now, b.write_only and "out" in dirs)

    def declarations(
        self, kind: str, old: Sequence[Any], new: Sequence[Any], compare: Callable[..., None]
    ) -> None:
        """Removed declarations are breaking, added ones compatible; the rest compared."""
        before = {d.name: d for d in old}
        after = {d.name: d for d in new}
        for name in sorted({*before, *after}):
            where = f'{kind} "{name}"'
            a, b = before.get(name), after.get(name)
            if b is None:
                self.add(where, "removed", True)
            elif a is None:
                self.add(where, "added", False)
            else:
                compare(where, a, b)

    def function(self, where: str, a: Function, b: Function) -> None:
        if a.input != b.input:
            self.add(where, f"input {a.input} -> {b.input}", True)
        if a.output != b.output:
            if a.output is None or b.output is None:
                self.add(where, "output added or removed", True)
            else:
                self.shape_change(f"{where} output", a.output, b.output, {"out"})
        if a.transport != b.transport:
            # Every function answers over HTTP; a socket-only caller loses it.
            self.add(where, f"transport {a.transport} -> {b.transport}", a.transport == "websocket")
        if a.context != b.context:
            self.add(where, f"context {a.context} -> {b.context}", True)
        if a.auth != b.auth:
            stricter = b.auth == "custom" or _AUTH_RANK.get(b.auth, 9) > _AUTH_RANK.get(a.auth, 9)
            self.add(where, f"auth {a.auth or 'public'} -> {b.auth or 'public'}", stricter)
        if a.rev != b.rev:
            self.add(where, f"rev {a.rev} -> {b.rev}", b.rev > a.rev)
        if a.route != b.route:
            self.add(where, f"route {a.route} -> {b.route}", True)
        if a.affects != b.affects or a.shared != b.shared:
            self.add(where, "invalidations changed", False)
        if a.doc != b.doc:
            self.add(where, "doc changed", False)

    def channel(self, where: str, a: Channel, b: Channel) -> None:
        if a.params != b.params:
            self.add(where, f"params {a.params} -> {b.params}", True)
        if a.server_message != b.server_message:
            self.add(where, f"server-message {a.server_message} -> {b.server_message}", True)
        if a.client_message != b.client_message:
            what = f"client-message {a.client_message} -> {b.client_message}"
            self.add(where, what, a.client_message is not None)
        if a.history != b.history:
            self.add(where, f"history {a.history} -> {b.history}", False)
        if a.presence != b.presence:
            # Clients that render the roster break when it goes away, not when it appears.
            self.add(where, f"presence {a.presence} -> {b.presence}", a.presence is not None)
        if a.doc != b.doc:
            self.add(where, "doc changed", False)

    def form(self, where: str, a: Form, b: Form) -> None:
        if a.fields_type != b.fields_type:
            self.add(where, f"fields {a.fields_type} -> {b.fields_type}", True)
        if a.output != b.output and a.output is not None and b.output is not None:
            self.shape_change(f"{where} output", a.output, b.output, {"out"})
        if (a.title, a.submit_label, a.fields, a.doc) != (b.title, b.submit_label, b.fields, b.doc):
            self.add(where, "labels, widgets, initials or choices changed", False)


def diff(old: Document, new: Document) -> list[Change]:
    """Every change from `old` to `new`, sorted by place."""
    d = _Differ(old, new)
    d.types()
    d.declarations("function", old.functions, new.functions, d.function)
    d.declarations("channel", old.channels, new.channels, d.channel)
    d.declarations("form", old.forms, new.forms, d.form)
    return sorted(d.changes)


__all__ = ["Change", "diff"]
