"""Union discriminators named by wire name, like every other field name in the IR.

Pydantic's `Field(discriminator="pet_kind")` names the tag by its Python attribute, but the
arm structs list the field under its wire name (`petKind` with a camelCase alias
generator). A generator looks the discriminator up among the arms' fields, so it must find
the same name there: this pass renames it once field names are settled
(`build._settle_wire_names`), using each struct's Python names in field order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from .model import (
    Alias,
    Field,
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


class DiscriminatorNames:
    """Renames the discriminators in shapes, given the settled types and, for each struct,
    the Python names of its fields in declared order."""

    def __init__(
        self, types: Mapping[str, NamedType], pynames: Mapping[str, tuple[str, ...]]
    ) -> None:
        self.types = types
        self.pynames = pynames

    def wire_name(self, union: UnionOf, python_name: str) -> str:
        """The IR name of the arms' field called `python_name` in Python; Pydantic requires
        every arm to accept the tag under one alias, so the first struct arm decides."""
        for arm in union.arms:
            t = self.types.get(arm.name) if isinstance(arm, Ref) else None
            if isinstance(t, Struct) and python_name in self.pynames.get(t.name, ()):
                return t.fields[self.pynames[t.name].index(python_name)].name
        return python_name

    def shape(self, s: Shape) -> Shape:
        if isinstance(s, UnionOf):
            arms = tuple(self.shape(a) for a in s.arms)
            disc = s.discriminator
            return UnionOf(arms, self.wire_name(s, disc) if disc is not None else None)
        if isinstance(s, ListOf):
            return replace(s, item=self.shape(s.item))
        if isinstance(s, MapOf):
            return replace(s, value=self.shape(s.value))
        if isinstance(s, OptionalOf):
            return OptionalOf(self.shape(s.inner))
        if isinstance(s, TupleOf):
            return TupleOf(tuple(self.shape(x) for x in s.items))
        return s

    def named(self, t: NamedType) -> NamedType:
        if isinstance(t, Struct):
            return replace(t, fields=tuple(self._field(f) for f in t.fields))
        if isinstance(t, Alias):
            return replace(t, shape=self.shape(t.shape))
        return t

    def _field(self, f: Field) -> Field:
        return replace(f, shape=self.shape(f.shape))


__all__ = ["DiscriminatorNames"]
