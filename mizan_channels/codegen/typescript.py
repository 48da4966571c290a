"""IR shapes and named types -> TypeScript types (`types.ts`).

The mapping follows the wire, not Python: datetimes, dates, times, UUIDs, decimals and
bytes arrive as strings, so they are `string`; `any` is `unknown`, so a value the server
left untyped must be checked before use; `optional` is `| null` (the server writes null,
never leaves the key out); unions stay unions in declared order; enums are literal unions.
Structs are object type aliases rather than interfaces: aliases are assignable to
`Record<string, unknown>`, which the runtime's `subscribe()` and `context()` ask for, and
object types (like index signatures, used for maps) may refer to themselves, so recursive
types work.
"""

from __future__ import annotations

from ..ir.model import (
    Alias,
    EnumOf,
    EnumType,
    ListOf,
    MapOf,
    OptionalOf,
    Primitive,
    Ref,
    Shape,
    Struct,
    TupleOf,
    UnionOf,
)
from .names import CodegenError, doc_comment, json_string, prop_key
from .plan import Plan, View

_PRIMITIVES = {
    "str": "string",
    "int": "number",
    "float": "number",
    "bool": "boolean",
    "datetime": "string",
    "date": "string",
    "time": "string",
    "uuid": "string",
    "decimal": "string",
    "bytes": "string",
    "any": "unknown",
    "null": "null",
}


def literal(v: str | int | bool | float | None) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int | float):
        return repr(v)
    return json_string(v)


def ts_shape(s: Shape, plan: Plan, view: View, prefix: str = "") -> str:
    """`s` as a TypeScript type expression; `prefix` qualifies named types (`T.`)."""
    if isinstance(s, Primitive):
        try:
            return _PRIMITIVES[s.kind]
        except KeyError:
            raise CodegenError(f"Unknown IR primitive {s.kind!r}: update mizan_channels.") from None
    if isinstance(s, Ref):
        return prefix + plan.name(s.name, view)
    if isinstance(s, ListOf):
        inner = ts_shape(s.item, plan, view, prefix)
        return f"{inner}[]" if _simple(inner) else f"Array<{inner}>"
    if isinstance(s, TupleOf):
        return "[" + ", ".join(ts_shape(x, plan, view, prefix) for x in s.items) + "]"
    if isinstance(s, MapOf):
        return f"{{ [key: string]: {ts_shape(s.value, plan, view, prefix)} }}"
    if isinstance(s, OptionalOf):
        inner = ts_shape(s.inner, plan, view, prefix)
        return inner if inner.endswith("| null") or inner == "null" else f"{inner} | null"
    if isinstance(s, EnumOf):
        return " | ".join(literal(v) for v in s.values) or "never"
    if isinstance(s, UnionOf):
        arms: list[str] = []
        for a in s.arms:
            text = ts_shape(a, plan, view, prefix)
            if text not in arms:
                arms.append(text)
        return " | ".join(arms)
    raise CodegenError(f"Not an IR shape: {s!r}")


def _simple(text: str) -> bool:
    return text.replace("_", "").replace(".", "").replace("[]", "").isalnum()


def _struct(t: Struct, plan: Plan, view: View) -> list[str]:
    name = plan.name(t.name, view)
    out = doc_comment(t.doc)
    if not t.fields:
        return [*out, f"export type {name} = Record<string, never>;"]
    out.append(f"export type {name} = {{")
    for f in t.fields:
        if f.write_only and view == "out":
            continue  # the server never writes it
        out.extend(doc_comment(f.doc, "  "))
        key = f.name if view == "in" else (f.output_name or f.name)
        optional = "?" if view == "in" and f.default is not None else ""
        out.append(f"  {prop_key(key)}{optional}: {ts_shape(f.shape, plan, view)};")
    out.append("};")
    return out


def declarations(plan: Plan) -> list[str]:
    """Every named type in every view it needs, sorted by TypeScript name."""
    blocks: list[tuple[str, list[str]]] = []
    for t in plan.types.values():
        views: list[View] = ["out", "in"] if t.name in plan.dual else [plan.view_of(t.name)]
        for view in views:
            name = plan.name(t.name, view)
            if isinstance(t, Struct):
                body = _struct(t, plan, view)
            elif isinstance(t, EnumType):
                values = " | ".join(literal(v) for v in t.values) or "never"
                body = [*doc_comment(t.doc), f"export type {name} = {values};"]
            elif isinstance(t, Alias):
                shape = ts_shape(t.shape, plan, view)
                body = [*doc_comment(t.doc), f"export type {name} = {shape};"]
            else:  # pragma: no cover - the model has three named kinds
                raise CodegenError(f"Not an IR named type: {t!r}")
            blocks.append((name, body))
    blocks.sort(key=lambda b: b[0])
    lines: list[str] = []
    for _, body in blocks:
        lines.extend(body)
        lines.append("")
    return lines
