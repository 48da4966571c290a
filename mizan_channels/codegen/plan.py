"""Which named types a client sends, which it receives, and which need two TypeScript views.

A struct field with a default is optional in what a client sends and always present in what
it receives, and a field may be written under another name (`output-name`). A type used in
one direction only gets one view under its own name; a type used both ways whose views
differ gets `Name` (what the server sends) and `NameIn` (what a client sends). Everything
the emitters need to know about directions is decided here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..ir.model import (
    Document,
    NamedType,
    Struct,
    directions,
    type_refs,
)

View = Literal["in", "out"]


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


def make_plan(doc: Document) -> Plan:
    types = {t.name: t for t in doc.types}
    inputs, outputs = directions(types, doc.functions, doc.channels, doc.forms)
    # A type's views differ when it has a defaulted, renamed or write-only field, or mentions a type
    # whose views differ: a fixpoint, because types may be recursive.
    differs = {
        t.name
        for t in doc.types
        if isinstance(t, Struct)
        and any(
            f.default is not None or f.output_name is not None or f.write_only for f in t.fields
        )
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
