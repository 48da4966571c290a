"""Which named types a client sends, which it receives, and which need two TypeScript views.

A struct field with a default is optional in what a client sends and always present in what
it receives, and a field may be written under another name (`output-name`). A type used in
one direction only gets one view under its own name; a type used both ways whose views
differ gets `Name` (what the server sends) and `NameIn` (what a client sends). Everything
the emitters need to know about directions is decided here, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from ..ir.model import (
    Alias,
    Document,
    ListOf,
    MapOf,
    NamedType,
    OptionalOf,
    Ref,
    Shape,
    Struct,
    TupleOf,
    UnionOf,
)

View = Literal["in", "out"]


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
    if isinstance(t, Struct):
        for f in t.fields:
            yield from refs(f.shape)
    elif isinstance(t, Alias):
        yield from refs(t.shape)


@dataclass(frozen=True)
class Plan:
    types: dict[str, NamedType]
    inputs: frozenset[str]
    outputs: frozenset[str]
    dual: frozenset[str]
    form_structs: frozenset[str]

    def name(self, type_name: str, view: View) -> str:
        """The TypeScript name of `type_name` seen from `view`."""
        if view == "in" and type_name in self.dual:
            return type_name + "In"
        return type_name

    def view_of(self, type_name: str) -> View:
        """The view a single-view type is written in."""
        return "in" if type_name in self.inputs and type_name not in self.outputs else "out"


def _reach(doc: Document, roots: Iterable[str]) -> frozenset[str]:
    by_name = {t.name: t for t in doc.types}
    seen: set[str] = set()
    todo = [r for r in roots if r in by_name]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(r for r in type_refs(by_name[name]) if r in by_name)
    return frozenset(seen)


def make_plan(doc: Document) -> Plan:
    types = {t.name: t for t in doc.types}
    in_roots: list[str] = []
    out_roots: list[str] = []
    for f in doc.functions:
        if f.input:
            in_roots.append(f.input)
        if f.output is not None:
            out_roots.extend(refs(f.output))
    for c in doc.channels:
        in_roots.append(c.params)
        out_roots.append(c.server_message)
        if c.client_message:
            in_roots.append(c.client_message)
        if c.presence:
            out_roots.append(c.presence)
    for form in doc.forms:
        in_roots.append(form.fields_type)
        if form.output is not None:
            out_roots.extend(refs(form.output))
    inputs = _reach(doc, in_roots)
    outputs = _reach(doc, out_roots)
    # A type's views differ when it has a defaulted or renamed field, or mentions a type
    # whose views differ: a fixpoint, because types may be recursive.
    differs = {
        t.name
        for t in doc.types
        if isinstance(t, Struct)
        and any(f.default is not None or f.output_name is not None for f in t.fields)
    }
    changed = True
    while changed:
        changed = False
        for t in doc.types:
            if t.name not in differs and any(r in differs for r in type_refs(t)):
                differs.add(t.name)
                changed = True
    dual = frozenset(n for n in differs if n in inputs and n in outputs)
    return Plan(
        types=types,
        inputs=inputs,
        outputs=outputs,
        dual=dual,
        form_structs=frozenset(f.fields_type for f in doc.forms),
    )
