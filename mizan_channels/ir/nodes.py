"""KDL nodes -> IR values, one node at a time: argument, property and child checks, shapes,
defaults and named types, each failure reported with the node's line and column.

kdl-py does the lexing. Two of its defaults are overridden here: bare numbers would all come
back as floats (we read the source text, so `3` stays an int), and nodes carry no positions
(we keep each node's fragment to report line and column, computed only on error).
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from kdl.errors import ParseError
from kdl.parsefuncs import parse as kdl_parse
from kdl.parsing import ParseConfig
from kdl.types import Decimal as KdlNumber
from kdl.types import Null as KdlNull

from .model import (
    CONSTRAINT_KEYS,
    NO_CONSTRAINTS,
    PRIMITIVES,
    Alias,
    Constraints,
    Default,
    DefaultJson,
    DefaultUnknown,
    DefaultValue,
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

_INT_LIMITS = {"min-length", "max-length", "max-digits", "decimal-places"}
_STR_LIMITS = {"pattern", "format"}


class IRSyntaxError(ValueError):
    """A document that doesn't follow the grammar; `line` and `column` are 1-based."""

    def __init__(self, line: int, column: int, message: str) -> None:
        self.line, self.column, self.message = line, column, message
        super().__init__(f"line {line}, column {column}: {message}")


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a float"
    return "a string"


class NodeReader:
    """Checks and reads single nodes; `reader._Reader` adds the declarations on top."""

    def __init__(self, text: str) -> None:
        self.places: dict[int, Any] = {}
        # Every type-name reference, checked once all declarations are known.
        self.refs: list[tuple[str, Any, tuple[type, ...], str]] = []
        config = ParseConfig(
            nativeUntaggedValues=False,
            nativeTaggedValues=False,
            valueConverters={...: self._value},
            nodeConverters={...: self._node},
        )
        try:
            self.doc = kdl_parse(text, config)
        except ParseError as exc:
            detail = str(exc).split("parse error:", 1)[-1].strip()
            raise IRSyntaxError(exc.line, exc.col, f"not valid KDL: {detail}") from None

    # kdl-py hooks -------------------------------------------------------------------------

    def _value(self, val: Any, fragment: Any) -> Any:
        if val.tag is not None:
            raise fragment.error(f"type annotations like ({val.tag}) are not part of the IR")
        if isinstance(val, KdlNumber):
            raw = fragment.fragment.replace("_", "")
            return float(raw) if any(c in raw for c in ".eE") else int(raw)
        if isinstance(val, KdlNull):
            return None
        return val.value

    def _node(self, node: Any, fragment: Any) -> Any:
        if node.tag is not None:
            raise fragment.error(f"type annotations like ({node.tag}) are not part of the IR")
        self.places[id(node)] = fragment
        return node

    # Checks -------------------------------------------------------------------------------

    def fail(self, node: Any, message: str) -> NoReturn:
        place = self.places[id(node)].error("")
        raise IRSyntaxError(place.line, place.col, message)

    def check(
        self,
        node: Any,
        nargs: tuple[int, int | None],
        props: dict[str, tuple[type, ...]],
        children: bool = False,
    ) -> None:
        low, high = nargs
        n = len(node.args)
        if n < low or (high is not None and n > high):
            want = f"{low}" if low == high else f"{low} to {high}" if high else f"at least {low}"
            self.fail(node, f"`{node.name}` takes {want} argument(s), got {n}")
        for key, val in node.props.items():
            types = props.get(key)
            if types is None:
                known = ", ".join(props) or "none"
                self.fail(node, f"`{node.name}` has no property `{key}` (known: {known})")
            if not _is_a(val, types):
                self.fail(node, f"`{node.name} {key}=` expects {_names(types)}, got {_kind(val)}")
        if node.nodes and not children:
            self.fail(node, f"`{node.name}` takes no children block")

    def arg(self, node: Any, i: int, types: tuple[type, ...], what: str) -> Any:
        val = node.args[i]
        if not _is_a(val, types):
            self.fail(node, f"`{node.name}` expects {what} as argument {i + 1}, got {_kind(val)}")
        return val

    def name_arg(self, node: Any) -> str:
        self.check_args_min(node)
        name: str = self.arg(node, 0, (str,), "a quoted name")
        return name

    def check_args_min(self, node: Any) -> None:
        if not node.args:
            self.fail(node, f"`{node.name}` needs a quoted name as its first argument")

    def unique(self, names: list[str], nodes: list[Any], what: str) -> None:
        """A struct's or form's fields are keys of one JSON object: a name appears once."""
        seen: set[str] = set()
        for name, node in zip(names, nodes, strict=True):
            if name in seen:
                self.fail(node, f"{what} {name!r} is declared twice")
            seen.add(name)

    def ref(self, node: Any, name: str, kinds: tuple[type, ...], what: str) -> str:
        self.refs.append((name, node, kinds, what))
        return name

    def one_child(self, node: Any) -> Any:
        if len(node.nodes) != 1:
            self.fail(
                node,
                f"`{node.name}` holds exactly one shape in {{ }}, got "
                f"{len(node.nodes)} child node(s)",
            )
        return node.nodes[0]

    # Shapes -------------------------------------------------------------------------------

    def limits(self, node: Any) -> Constraints:
        found = {CONSTRAINT_KEYS[k]: v for k, v in node.props.items() if k in CONSTRAINT_KEYS}
        return Constraints(**found) if found else NO_CONSTRAINTS

    def shape(self, node: Any) -> Shape:
        name = node.name
        if name == "primitive":
            self.check(node, (1, 1), LIMIT_PROPS)
            kind = self.arg(node, 0, (str,), "a primitive kind")
            if kind not in PRIMITIVES:
                self.fail(
                    node, f"unknown primitive {kind!r}; expected one of {', '.join(PRIMITIVES)}"
                )
            return Primitive(kind, self.limits(node))
        if name == "ref":
            self.check(node, (1, 1), {})
            target = self.arg(node, 0, (str,), "a type name")
            return Ref(
                self.ref(node, target, (Struct, EnumType, Alias), "an alias, enum or struct")
            )
        if name == "list":
            self.check(node, (0, 0), {**LIMIT_PROPS, "unique": (bool,)}, children=True)
            unique = node.props.get("unique", False)
            if unique is not True and "unique" in node.props:
                self.fail(node, "`list unique=` is written only as `unique=true`")
            return ListOf(self.shape(self.one_child(node)), self.limits(node), unique)
        if name == "tuple":
            self.check(node, (0, 0), {}, children=True)
            return TupleOf(tuple(self.shape(c) for c in node.nodes))
        if name == "map":
            self.check(node, (0, 0), LIMIT_PROPS, children=True)
            return MapOf(self.shape(self.one_child(node)), self.limits(node))
        if name == "optional":
            self.check(node, (0, 0), {}, children=True)
            return OptionalOf(self.shape(self.one_child(node)))
        if name == "enum":
            self.check(node, (0, None), {})
            return EnumOf(
                tuple(
                    self.arg(node, i, (str, int, bool), "a string, int or bool")
                    for i in range(len(node.args))
                )
            )
        if name == "union":
            self.check(node, (0, 0), {"discriminator": (str,)}, children=True)
            if len(node.nodes) < 2:
                self.fail(node, "`union` needs two or more arms; write a single arm on its own")
            return UnionOf(
                tuple(self.shape(c) for c in node.nodes), node.props.get("discriminator")
            )
        self.fail(
            node,
            f"expected a shape (primitive, ref, list, tuple, map, optional, enum, "
            f"union), got `{name}`",
        )

    # Declarations -------------------------------------------------------------------------

    def default(self, node: Any, scalar: str) -> Default | None:
        json_key = f"{scalar}-json"
        unknown = "has-default" if scalar == "default" else "dynamic-initial"
        keys = [k for k in (scalar, json_key, unknown) if k in node.props]
        if len(keys) > 1:
            self.fail(node, f"`{node.name}` has {' and '.join(keys)}; give at most one")
        if scalar in node.props:
            return DefaultValue(node.props[scalar])
        if json_key in node.props:
            text = node.props[json_key]
            try:
                decoded = json.loads(text)
            except ValueError as exc:
                self.fail(node, f"`{json_key}` holds JSON text, but {exc}")
            if not isinstance(decoded, list | dict):
                self.fail(
                    node,
                    f"`{json_key}` holds a JSON array or object; write a scalar "
                    f"as `{scalar}=` instead",
                )
            return DefaultJson(text)
        if unknown in node.props:
            if node.props[unknown] is not True:
                self.fail(node, f"`{unknown}` is written only as `{unknown}=true`")
            return DefaultUnknown()
        return None

    def flag(self, node: Any, key: str) -> bool:
        """A property written only as `key=true` (absent means false)."""
        if key not in node.props:
            return False
        if node.props[key] is not True:
            self.fail(node, f"`{key}` is written only as `{key}=true`")
        return True

    def field(self, node: Any) -> Field:
        if node.name != "field":
            self.fail(node, f"a struct holds only `field` nodes, got `{node.name}`")
        self.check(node, (1, 1), FIELD_PROPS, children=True)
        return Field(
            name=self.name_arg(node),
            shape=self.shape(self.one_child(node)),
            default=self.default(node, "default"),
            doc=node.props.get("doc"),
            output_name=node.props.get("output-name"),
            write_only=self.flag(node, "write-only"),
        )

    def named(self, node: Any) -> NamedType:
        doc = node.props.get("doc")
        if node.name == "struct":
            self.check(node, (1, 1), DOC_PROPS, children=True)
            fields = tuple(self.field(c) for c in node.nodes)
            self.unique([f.name for f in fields], node.nodes, "field")
            return Struct(self.name_arg(node), fields, doc)
        if node.name == "enum":
            self.check(node, (1, None), DOC_PROPS)
            values = tuple(
                self.arg(node, i, (str, int, bool), "a string, int or bool")
                for i in range(1, len(node.args))
            )
            return EnumType(self.name_arg(node), values, doc)
        self.check(node, (1, 1), DOC_PROPS, children=True)
        return Alias(self.name_arg(node), self.shape(self.one_child(node)), doc)


def _is_a(val: Any, types: tuple[type, ...]) -> bool:
    if isinstance(val, bool):
        return bool in types
    return isinstance(val, types)


def _names(types: tuple[type, ...]) -> str:
    words = {str: "a string", int: "an integer", float: "a float", bool: "true", type(None): "null"}
    return " or ".join(words.get(t, t.__name__) for t in types)


SCALAR = (str, int, float, bool, type(None))
NUMBER = (int, float, str)
DOC_PROPS: dict[str, tuple[type, ...]] = {"doc": (str,)}
LIMIT_PROPS: dict[str, tuple[type, ...]] = {
    k: ((int,) if k in _INT_LIMITS else (str,) if k in _STR_LIMITS else NUMBER)
    for k in CONSTRAINT_KEYS
}
FIELD_PROPS: dict[str, tuple[type, ...]] = {
    "default": SCALAR,
    "default-json": (str,),
    "has-default": (bool,),
    "output-name": (str,),
    "write-only": (bool,),
    "doc": (str,),
}
FORM_FIELD_PROPS: dict[str, tuple[type, ...]] = {
    "label": (str,),
    "help": (str,),
    "widget": (str,),
    "initial": SCALAR,
    "initial-json": (str,),
    "dynamic-initial": (bool,),
    "disabled": (bool,),
    "dynamic-choices": (bool,),
}
